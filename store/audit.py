"""The audit trail: every firing decided by this service and what became of it (applied, partly
applied, failed with Jira's answer, or skipped for now), with what caused it: a sweep, a webhook
event (by its identifier, so `events show` lists the firings an event caused) or the API."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError

from jsm_autopilot.errors import StoreUnavailable
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.schema import audit_firings

log = logging.getLogger("jsm_autopilot.audit")
OUTCOMES = ("applied", "partial", "failed", "skipped", "uncertain")


@dataclass(frozen=True)
class AuditedFiring:
    at: datetime
    issue: str
    rule: str
    outcome: str
    reason: str
    error: str | None
    source: str

    def as_json(self) -> dict:
        return {"at": self.at.isoformat(), "issue": self.issue, "rule": self.rule, "outcome": self.outcome,
                "reason": self.reason, "error": self.error, "source": self.source}


class AuditTrail:
    def __init__(self, store: EventStore):
        self.store = store

    def record(self, at: datetime, issue: str, rule: str, outcome: str, reason: str, error: str | None, source: str) -> None:
        try:
            with self.store._write() as connection:
                connection.execute(insert(audit_firings).values(at=at, issue=issue, rule=rule, outcome=outcome, reason=reason[:2000],
                                                                error=(error or None) and error[:2000], source=source[:250]))
        except SQLAlchemyError as error_:
            # The firing itself is done and in Jira's log; only this record of it is missing.
            log.warning("audit record of %s %s not kept: %s", issue, rule, error_)

    def list(self, since: datetime | None = None, rule: str | None = None, issue: str | None = None,
             outcome: str | None = None, source: str | None = None, limit: int = 1000) -> list[AuditedFiring]:
        """Newest first."""
        query = select(audit_firings)
        for column, value in ((audit_firings.c.rule, rule), (audit_firings.c.issue, issue),
                              (audit_firings.c.outcome, outcome), (audit_firings.c.source, source)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(audit_firings.c.at >= since)
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(query.order_by(audit_firings.c.at.desc(), audit_firings.c.id.desc()).limit(limit)).all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the audit trail: {error}") from None
        return [AuditedFiring(r.at, r.issue, r.rule, r.outcome, r.reason, r.error, r.source) for r in rows]


# A firing's instant in the store and in the ticket's firing log are both Jira's server time,
# taken a moment apart (the log entry is written with the action).
SAME_FIRING = timedelta(minutes=2)


def only_in_firing_logs(stored: list[AuditedFiring], logged: list[tuple[str, str, datetime, str]]) -> list[AuditedFiring]:
    """The firings of the tickets' firing logs (`(issue, rule, at, stage)`) that the store does not
    know: written by `sweep --once` on another machine, by an older version before the audit table
    existed, or by a replica whose store was replaced. Each stored firing accounts for one entry."""
    unmatched = [f for f in stored if f.outcome in ("applied", "partial")]
    found = []
    for issue, rule, at, stage in logged:
        match = next((f for f in unmatched if f.issue == issue and f.rule == rule and abs(f.at - at) <= SAME_FIRING), None)
        if match is not None:
            unmatched.remove(match)
            continue
        reason = "in the ticket's firing log only" + (f" ({stage})" if stage else "")
        found.append(AuditedFiring(at, issue, rule, "applied", reason, None, "firing log"))
    return found
