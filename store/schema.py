"""The event store's tables, on every backend (SQLAlchemy Core); `SCHEMA_VERSION` counts changes."""

from __future__ import annotations

from datetime import timezone

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table, Text, TypeDecorator

# 2: leases; 3: deliveries; 4: shadow firings; 5: learned triage; 6: late notes; 7: schedule; 8: audit;
# 9: claim indexes; 10: incidents; 11: uncertain writes; 12: rule overrides
SCHEMA_VERSION = 12


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the event store")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


metadata = MetaData()
events = Table(
    "webhook_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("identifier", String(200), nullable=False, unique=True),
    Column("event", String(100), nullable=False),
    Column("issue", String(64)),
    # pending -> processing -> done | failed; ignored for events no rule acts on
    Column("status", String(16), nullable=False),
    Column("received", UTCDateTime, nullable=False),
    Column("available_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("delivery_retry", Integer, nullable=False, default=0),
    Column("locked_by", String(100)),
    Column("locked_until", UTCDateTime),
    Column("error", Text),
    Column("updated", UTCDateTime, nullable=False),
    Column("body", LargeBinary, nullable=False),
    # A claim walks one status in id order and stops at the first free event; whether its ticket
    # is busy or has an older event waiting is one lookup by ticket and status.
    Index("ix_webhook_events_status_id", "status", "id"),
    Index("ix_webhook_events_issue_status", "issue", "status", "id"),
)
# Indexes of earlier versions, dropped by `migrate`: every index costs each delivery's insert.
RETIRED_INDEXES = ("ix_webhook_events_claim", "ix_webhook_events_issue")
schema_versions = Table("jsm_autopilot_schema", metadata, Column("version", Integer, primary_key=True))
# Named leases (the sweep) and per-ticket holds, shared by every replica that uses this store.
leases = Table(
    "jsm_autopilot_leases", metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(100)),
    Column("expires_at", UTCDateTime),
    # For ticket holds: when an actor last wrote to the ticket, so a stale snapshot is re-read.
    Column("last_write", UTCDateTime),
)

# Which Delivery ticket was created for an organisation and version (name: see connector/deliveries.py).
deliveries = Table(
    "jsm_autopilot_deliveries", metadata,
    Column("name", String(200), primary_key=True),
    Column("issue_key", String(64)),
    Column("recorded", UTCDateTime, nullable=False),
)

# What `triage learn` learned from the site's history (config/triage_model.py, as JSON).
learned = Table(
    "jsm_autopilot_learned", metadata,
    Column("name", String(64), primary_key=True),
    Column("model", Text, nullable=False),
    Column("learned_at", UTCDateTime, nullable=False),
)

# Internal notes whose firing reached Jira while the note itself did not (store/late_notes.py).
late_notes = Table(
    "jsm_autopilot_late_notes", metadata,
    Column("firing_id", String(64), primary_key=True),
    Column("issue", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("note", Text, nullable=False),  # the note as JSON: body and mentions
    Column("kept", UTCDateTime, nullable=False),
    Column("error", Text),
)

# What `serve --dry-run` would have done: one row per distinct firing (same ticket, rule and
# actions), however often a webhook or a sweep decided it again.
shadow_firings = Table(
    "jsm_autopilot_shadow_firings", metadata,
    Column("digest", String(64), primary_key=True),
    Column("issue", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("source", String(16), nullable=False),  # sweep | webhook
    Column("summary", Text, nullable=False),  # the action kinds and the reason, as the log shows them
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("times", Integer, nullable=False),
)

# When each ticket is next due with nothing changed in Jira (rules.catalogue.next_due), and when
# the sweeps last looked: routine sweeps read only what is due or changed (store/schedule.py).
ticket_schedule = Table(
    "jsm_autopilot_ticket_schedule", metadata,
    Column("issue", String(64), primary_key=True),
    Column("next_due", UTCDateTime),  # null: only a change in Jira can make a rule fire
    Column("read_at", UTCDateTime, nullable=False),
    Index("ix_ticket_schedule_due", "next_due"),
)
sweep_marks = Table(
    "jsm_autopilot_sweep_marks", metadata,
    Column("name", String(100), primary_key=True),  # "<project>:routine" | "<project>:full"
    Column("at", UTCDateTime, nullable=False),  # Jira's time when that sweep began
)

# Every firing decided and what became of it, for `jsm-autopilot audit` and `events show`.
audit_firings = Table(
    "jsm_autopilot_audit", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),  # Jira's time of the decision
    Column("issue", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # applied | partial | failed | skipped | uncertain
    Column("reason", Text, nullable=False),
    Column("error", Text),  # Jira's answer on failure
    Column("source", String(250), nullable=False),  # sweep | webhook:<identifier> | api
    Index("ix_audit_at", "at"),
    Index("ix_audit_source", "source"),
)

# What admins are told about (service/notify.py): one row per kind of incident, shared by every
# replica, so that several replicas send one message between them, not one each.
incidents = Table(
    "jsm_autopilot_incidents", metadata,
    Column("kind", String(40), primary_key=True),  # jira_unreachable | credentials_refused | firing_failed | dead_letters | oncall_failing
    Column("started", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),  # the first cause, as admins read it
    Column("times", Integer, nullable=False),  # how often it was seen during this incident
    Column("announced", UTCDateTime),  # when the start message went out; null: not (yet)
    Column("ended", UTCDateTime),  # null while it lasts
)

# Customer-visible writes whose answer never came (connector/uncertain.py): not sent again until
# the ticket, read after limits.uncertain_settle, shows they did not land.
uncertain_writes = Table(
    "jsm_autopilot_uncertain_writes", metadata,
    Column("firing_id", String(64), primary_key=True),
    Column("issue", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),  # the service's clock
    Column("error", Text, nullable=False),
    Column("landed", Boolean),  # null while uncertain
    Column("settled_at", UTCDateTime),
    Index("ix_uncertain_open", "issue", "rule", "landed"),
)

# Rule switches set in the console over app.yaml's (rules/overrides.py): one row per rule that
# differs, and every change with who made it, which also tells a lost override from a reset one.
rule_overrides = Table(
    "jsm_autopilot_rule_overrides", metadata,
    Column("rule", String(64), primary_key=True),
    Column("enabled", Boolean),  # null: as app.yaml says
    Column("shadow", Boolean),
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
)
rule_override_changes = Table(
    "jsm_autopilot_rule_override_changes", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("rule", String(64), nullable=False),
    Column("enabled", Boolean),  # the override after the change; both null: reset to app.yaml
    Column("shadow", Boolean),
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
)
