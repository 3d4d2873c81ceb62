"""Turns one ticket's actions into the fewest Jira calls, applying each firing exactly once.

A firing (one rule's actions on one ticket) becomes:
- with a transition: one `POST /transitions` carrying the transition, its public comment, field
  changes and the updated firing log (issue property) - Jira applies it whole or not at all;
- with a public comment or field changes but no transition: one `PUT /issue` with the same;
- with internal notes only: the log (`PUT` of the property), then the notes.
Each firing's internal audit note follows as its own `POST /comment` (`sd.public.comment`
internal), since a comment inside a transition cannot be made internal reliably (JIRA-CONTRACT.md
3.4). If the process dies between the two, agents miss one note; the customer never gets a
comment twice. A customer-visible write that failed ambiguously (5xx, lost connection, a
timeout) and is not in Jira's firing log after a short look (`landed_waits`) is kept as uncertain
(connector/uncertain.py), never resent blindly: Jira may apply it minutes later. Only after
`limits.uncertain_settle` and a fresh read that lacks it does the rule fire anew. Each internal
note carries its firing's id as a comment property, so it too is recognised in Jira.
"""

from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Mapping, Protocol

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.documents import document, field_value
from jsm_autopilot.connector.jql import jql_string
from jsm_autopilot.connector.mapping import adf_to_text
from jsm_autopilot.connector.oncall import OnCallSender
from jsm_autopilot.connector.uncertain import RunUncertain, UncertainKeeper, UncertainWrite
from jsm_autopilot.errors import AlertFailed, CallFailed, JiraAmbiguous, JiraError, JiraRefused, ScreenFieldsMissing, WriteUncertain
from jsm_autopilot.rules.actions import (
    REFUSED,
    Action,
    FieldChange,
    InternalComment,
    IssueLinkChange,
    LinkedIssue,
    OnCallAlert,
    PublicComment,
    Transition,
    audit_note,
    due_now,
    firings_of,
)
from jsm_autopilot.rules.model import Ticket
from jsm_autopilot.rules.overrides import split_shadow

log = logging.getLogger("jsm_autopilot.executor")


class LateNoteKeeper(Protocol):
    """Keeps notes that could not be written (store/late_notes.py)."""

    def keep(self, firing_id: str, note: InternalComment, now: datetime, error: str) -> None: ...

    def waiting(self) -> list[tuple[str, InternalComment]]: ...

    def written(self, firing_id: str) -> None: ...

    def failed_again(self, firing_id: str, error: str) -> None: ...
LOG_LIMIT = 100  # firings kept in the property; far below Jira's 32 KB per property
JSM_INTERNAL = {"key": "sd.public.comment", "value": {"internal": True}}
FIRING_PROPERTY = "jsm-autopilot.firing"  # on each note: {"id": <firing id>}


def jira_timestamp(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class FiringOutcome:
    issue: str
    rule: str
    actions: int
    applied: bool
    error: str | None = None
    # Applied, but what followed the logged write (the note for agents) failed: said, not FAILED.
    partial: str | None = None
    # Not tried: it waits (limits.max_firings_per_sweep); `error` says why.
    skipped: bool = False
    # Sent, but no answer came: not known whether Jira applied it (connector/uncertain.py).
    uncertain: bool = False

    @property
    def outcome(self) -> str:
        if self.uncertain:
            return "uncertain"
        return "skipped" if self.skipped else "partial" if self.partial else "applied" if self.applied else "failed"


# Who decided the firings being applied in this thread: "sweep", "webhook:<identifier>", "api".
firing_source: ContextVar[str] = ContextVar("firing_source", default="sweep")


@dataclass
class Executor:
    client: JiraClient
    settings: Settings
    resend_attempts: int = 3
    # After an ambiguous write: look for it in Jira after each of these pauses before resending
    # (15 s in all; Jira may apply a write after the gateway timed out on it).
    landed_waits: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)
    new_firing_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex[:16])
    # Told (rule, number of actions) after each firing that was applied, e.g. for metrics.
    on_applied: Callable[[str, int], None] = field(default=lambda rule, count: None)
    # Where oncall.alert sends its alerts (connector/oncall.py); None: none is configured.
    alerts: "OnCallSender | None" = None
    # Told each applied firing's actions (the demo shows customers' texts as they received them).
    on_actions_applied: Callable[[list[Action]], None] = field(default=lambda actions: None)
    # Where a note that failed after its firing reached Jira is kept, to be written by the next
    # sweep (store/late_notes.py); None: it is only logged.
    late_notes: "LateNoteKeeper | None" = None
    # Told every firing's outcome with its actions and the decision's time (the audit trail).
    on_outcome: Callable[[FiringOutcome, list[Action], datetime], None] = field(default=lambda outcome, group, now: None)
    # Told whether the on-call channel took an alert (None) or not (what failed): admins hear of
    # a failing channel as the channel's failure, not Jira's.
    on_alert: Callable[[str | None], None] = field(default=lambda error: None)
    # Customer-visible writes whose answer never came; the service's own clock, which their settle
    # time is measured on (Jira's clock may be a sandbox's, or differ).
    uncertain: UncertainKeeper = field(default_factory=RunUncertain)
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    # Told the firings of shadow-only rules (rules.shadow, the console), which are never written.
    on_shadow: Callable[[list[Action]], None] = field(default=lambda actions: _log_shadow(actions))
    # Transitions offered from (issue type, status): the workflow is the same for every such issue.
    _transitions: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    # Each field's schema type (GET /field), read once when a moment or a day is first written.
    _field_types: dict[str, str | None] | None = None

    def apply(self, ticket: Ticket, firing_log: Mapping[str, Any], actions: list[Action], now: datetime,
              on_link: Callable[[IssueLinkChange], None] = lambda link: None) -> list[FiringOutcome]:
        """Apply one ticket's actions, firing by firing; a failed firing stops that ticket only.
        `on_link` hears each link change once made (a delivery's progress)."""
        # What waits for working hours is not written now; a shadow-only rule's firing never is.
        live, shadow = split_shadow(due_now(actions), self.settings)
        if shadow:
            self.on_shadow(shadow)
        firings = firings_of(live)
        entries = list(firing_log.get("firings") or [])
        status = ticket.status
        outcomes = []
        for rule, group in firings.items():
            still = self._still_uncertain(ticket.key, rule)
            if still is not None:
                outcomes.append(FiringOutcome(ticket.key, rule, len(group), False, still, uncertain=True))
                self.on_outcome(outcomes[-1], group, now)
                break  # later firings were decided on a state this one may not have reached
            entry = {"id": self.new_firing_id(), "rule": rule, "at": jira_timestamp(now)}
            stage = next((a.stage for a in group if isinstance(a, InternalComment) and a.stage), "")
            if stage:
                entry["stage"] = stage
            new_log = {"firings": (entries + [entry])[-LOG_LIMIT:]}
            missed: list[tuple[InternalComment, JiraError]] = []
            try:
                status = self._apply_firing(ticket, status, group, new_log, entry["id"], on_link, missed)
            except WriteUncertain as uncertain:
                log.warning("%s %s uncertain: %s", ticket.key, rule, uncertain, extra={"issue": ticket.key, "rule": rule})
                outcomes.append(FiringOutcome(ticket.key, rule, len(group), False, str(uncertain), uncertain=True))
                self.on_outcome(outcomes[-1], group, now)
                break
            except CallFailed as error:  # Jira's answer, or the on-call channel's
                log.error("%s %s failed: %s", ticket.key, rule, error, extra={"issue": ticket.key, "rule": rule})
                outcomes.append(FiringOutcome(ticket.key, rule, len(group), False, str(error)))
                self.on_outcome(outcomes[-1], group, now)
                break  # later firings were decided on a state this one did not reach
            entries = new_log["firings"]
            outcomes.append(FiringOutcome(ticket.key, rule, len(group), True, partial=self._keep_missed(entry["id"], missed, now)))
            self.on_outcome(outcomes[-1], group, now)
            self.on_applied(rule, len(group))
            self.on_actions_applied(group)
            log.info("%s %s applied", ticket.key, rule, extra={"issue": ticket.key, "rule": rule})
        return outcomes

    def _still_uncertain(self, key: str, rule: str) -> str | None:
        """Why this rule must not fire on this ticket yet: an earlier firing of it got no answer,
        and either its settle time has not passed or it turned out to have landed after all."""
        waiting = self.uncertain.waiting(key, rule)
        if waiting is None:
            return None
        settle = self.settings.limits.uncertain_settle.nominal
        if self.wall_clock() < waiting.sent_at + settle:
            return (f"uncertain: sent at {waiting.sent_at:%H:%M:%S} UTC without an answer ({waiting.error}); not sent again "
                    f"before {waiting.sent_at + settle:%H:%M:%S} UTC (limits.uncertain_settle)")
        return None if not self._settle(waiting) else "landed late: the earlier write is in Jira after all; not sent again"

    def settle_uncertain(self) -> int:
        """Look again at every uncertain write whose settle time has passed: landed, or to be sent
        anew by the rule's next evaluation. Returns how many were settled."""
        settle = self.settings.limits.uncertain_settle.nominal
        due = [w for w in self.uncertain.open() if self.wall_clock() >= w.sent_at + settle]
        for write in due:
            try:
                self._settle(write)
            except JiraError as error:
                log.warning("%s %s: uncertain write not checked yet: %s", write.issue, write.rule, error,
                            extra={"issue": write.issue, "rule": write.rule})
        return len(due)

    def _settle(self, write: UncertainWrite) -> bool:
        """Read the ticket's firing log: True when the write landed after all."""
        landed = self._landed(write.issue, write.firing_id)
        self.uncertain.settled(write.firing_id, landed, self.wall_clock())
        log.warning("%s %s: the write sent at %s without an answer %s", write.issue, write.rule, write.sent_at.isoformat(),
                    "landed after all; not sent again" if landed else "never landed; the rule fires again",
                    extra={"issue": write.issue, "rule": write.rule})
        return landed

    def _keep_missed(self, firing_id: str, missed: list[tuple[InternalComment, JiraError]], now: datetime) -> str | None:
        """Notes that failed after their firing landed: kept for the next sweep; what to report."""
        if not missed:
            return None
        note, error = missed[0]
        kept = self.late_notes is not None
        for lost, why in missed:
            if self.late_notes is not None:
                self.late_notes.keep(firing_id, lost, now, str(why))
        said = f"applied; its note for agents failed ({error.status if error.status is not None else 'no answer'}) and " + \
               ("is kept to be written by the next sweep" if kept else "could not be kept: agents miss it")
        log.warning("%s %s %s", note.issue, note.rule, said, extra={"issue": note.issue, "rule": note.rule})
        return said

    def write_late_notes(self) -> int:
        """Write the notes kept after a failure; each is recognised in Jira by its firing id, so an
        earlier try that landed after all is not repeated. Returns how many were written."""
        if self.late_notes is None:
            return 0
        written = 0
        for firing_id, note in self.late_notes.waiting():
            try:
                if not self._note_landed(note.issue, note, firing_id):
                    self._add_note(note.issue, note, firing_id)
            except JiraError as error:
                self.late_notes.failed_again(firing_id, str(error))
                continue
            self.late_notes.written(firing_id)
            written += 1
        return written

    def _apply_firing(self, ticket: Ticket, status: str, group: list[Action], new_log: dict, firing_id: str,
                      on_link: Callable[[IssueLinkChange], None], missed: list | None = None) -> str:
        key = ticket.key
        version = self.client.version
        public = [a for a in group if isinstance(a, PublicComment)]
        transitions = [a for a in group if isinstance(a, Transition)]
        notes = [a for a in group if isinstance(a, InternalComment)]
        changes = {a.field: self._field_value(a) for a in group if isinstance(a, FieldChange)}
        for alert in (a for a in group if isinstance(a, OnCallAlert)):
            # Before the logged write: a resend after a failure below carries the same dedupe key.
            if self.alerts is None:
                raise AlertFailed("POST", "", None, "oncall.alert is on but neither JSM_AUTOPILOT_ONCALL_URL nor "
                                                               "JSM_AUTOPILOT_JSM_OPS_API_KEY is set")
            try:
                self.alerts.send(alert, f"{self.client.base_url}/browse/{key}")
            except AlertFailed as failed:
                self.on_alert(str(failed))
                raise
            self.on_alert(None)
        for linked in (a for a in group if isinstance(a, LinkedIssue)):
            # Before the logged call: if anything after it fails, the retry finds this issue again.
            self._linked_issue_once(key, linked)
        record = {"key": self.settings.automation.property_key, "value": new_log}
        body: dict = {"properties": [record]}
        if public:
            body["update"] = {"comment": [{"add": {"body": document(a.body, version)}} for a in public]}
        if changes and transitions:
            # A field in a transition call must be on its screen (else 400). Setting a field is
            # idempotent, so it goes first on its own; the transition then carries the log.
            self.client.edit(key, {"fields": changes})
        elif changes:
            body["fields"] = changes
        if transitions:
            target = transitions[-1]
            try:
                self._fill_screen(key, body, self._offered(ticket, status, target))
            except ScreenFieldsMissing as missing:
                self._screen_refused(key, group[0].rule, new_log, missing)
                raise
            self._write_once(key, firing_id, group[0].rule, lambda: self._send_transition(ticket, status, target, body))
            status = target.to_status
        elif public or changes:
            try:
                self._write_once(key, firing_id, group[0].rule, lambda: self.client.edit(key, body))
            except JiraRefused as refused:
                if refused.status == 400 and "issuetype" in changes:
                    self._type_change_refused(key, group[0].rule, new_log, changes["issuetype"], refused)
                raise
        else:
            self.client.set_issue_property(key, self.settings.automation.property_key, new_log)
        # After the logged write: if a link call fails, the list and the links differ, and the next
        # evaluation writes both again (adding a link twice links once; removing a gone one is done).
        for link in (a for a in group if isinstance(a, IssueLinkChange)):
            self._change_link(key, link)
            on_link(link)
        for note in notes:
            try:
                self._add_note(key, note, firing_id)
            except JiraError as error:
                if missed is None:
                    raise
                missed.append((note, error))  # the firing is in Jira: no rule will repeat this note
        return status

    def _screen_refused(self, key: str, rule: str, new_log: dict, missing: "ScreenFieldsMissing") -> None:
        """A screen asks for a field the service cannot fill: no retry can change that until an
        admin maps it. Log the firing as refused, so the rule does not fire again while the ticket
        stays in this status (rules/catalogue.py evaluate), and tell agents once."""
        new_log["firings"][-1] = {**new_log["firings"][-1], "stage": REFUSED}
        self.client.set_issue_property(key, self.settings.automation.property_key, new_log)
        reason = (f"not carried out: {missing.answer}. An agent can do it by hand, or an admin can add the "
                  f"field to transitions.screen_fields")
        self._add_note(key, audit_note(key, rule, reason), self.new_firing_id())

    def _type_change_refused(self, key: str, rule: str, new_log: dict, wanted: object, refused: JiraRefused) -> None:
        """Jira refuses an edit of the issue type into another workflow (that takes Move, which
        has no REST resource). No retry can change that: log the firing so the rule does not
        fire again, and tell agents once."""
        self.client.set_issue_property(key, self.settings.automation.property_key, new_log)
        name = wanted.get("name") if isinstance(wanted, dict) else wanted
        reason = (f"Jira refused to change the type to {name} ({refused.answer}); the two types use different "
                  f"workflows, so an agent has to move the ticket by hand")
        self._add_note(key, audit_note(key, rule, reason), self.new_firing_id())

    def _linked_issue_once(self, key: str, linked: LinkedIssue) -> str:
        """File the linked issue and link it, unless an earlier attempt did; returns its key.

        Jira cannot search issue properties without an app's index module (sandbox/REAL_JIRA.md),
        so an earlier attempt is found by the link on the ticket (read directly, no
        index lag), else by a text search for the ticket's key in the summary, confirmed by the
        property the filed issue carries."""
        marker = self.settings.automation.property_key
        links = (self.client.get_issue(key, ["issuelinks"]).get("fields") or {}).get("issuelinks") or []
        for link in links:
            other = (link.get("outwardIssue") or link.get("inwardIssue") or {}).get("key") or ""
            if (link.get("type") or {}).get("name") == linked.link_type and other.startswith(f"{linked.project}-"):
                return other
        jql = f"project = {jql_string(linked.project)} AND summary ~ {jql_string(key)} ORDER BY created DESC"
        mine = {"source": key, "rule": linked.rule}
        found = next((issue for issue in self.client.search(jql, ["summary"], properties=[marker], page_size=50)
                      if (issue.get("properties") or {}).get(marker) == mine), None)
        if found is None:
            found = self.client.call("POST", self.client.api("issue"), body={
                "fields": {"project": {"key": linked.project}, "issuetype": {"name": linked.issue_type}, "summary": linked.summary},
                "properties": [{"key": marker, "value": mine}],
            })
        # Linking twice links once ("the response indicates that the issue link was created").
        self.client.call("POST", self.client.api("issueLink"), body={
            "type": {"name": linked.link_type}, "inwardIssue": {"key": found["key"]}, "outwardIssue": {"key": key}}, write=False)
        return found["key"]

    def _change_link(self, key: str, link: IssueLinkChange) -> None:
        if link.add:
            self.client.call("POST", self.client.api("issueLink"), body={
                "type": {"name": link.link_type}, "outwardIssue": {"key": key}, "inwardIssue": {"key": link.other}}, write=False)
            return
        try:
            self.client.call("DELETE", self.client.api(f"issueLink/{link.link_id}"), write=False)
        except JiraRefused as refused:
            if refused.status != 404:
                raise

    def _send_transition(self, ticket: Ticket, status: str, target: Transition, body: dict) -> None:
        try:
            self.client.transition(ticket.key, body)
        except JiraRefused as refused:
            if refused.status != 400:
                raise
            # Perhaps the cached list was stale: ask once more, then let Jira's answer stand.
            self._transitions.pop((ticket.type, status), None)
            self._fill_screen(ticket.key, body, self._offered(ticket, status, target))
            self.client.transition(ticket.key, body)

    def _fill_screen(self, key: str, body: dict, offered: dict) -> None:
        """The transition, and what its screen requires (`expand=transitions.fields`): the
        Resolution (JSM's default workflows ask for it on the way into Resolved and Closed), the
        values `transitions.screen_fields` maps, a field's own default. Raises `ScreenFieldsMissing`
        naming any other required field, before anything is sent: Jira would answer 400."""
        body["transition"] = {"id": str(offered["id"])}
        fields = body.setdefault("fields", {})
        screen = offered.get("fields") or {}
        mapped = self.settings.transitions.screen_fields
        missing = []
        fields.pop("resolution", None)
        for field_id, meta in screen.items():
            if not isinstance(meta, dict) or not meta.get("required") or field_id in fields:
                continue
            if field_id == "resolution":
                fields["resolution"] = {"name": self.settings.resolutions.done}
            elif field_id in mapped:
                fields[field_id] = mapped[field_id]
            elif meta.get("hasDefaultValue") and "defaultValue" in meta:
                fields[field_id] = meta["defaultValue"]
            elif field_id != "comment":
                missing.append(f"{meta.get('name') or field_id} ({field_id})")
        if not fields:
            del body["fields"]
        if missing:
            raise ScreenFieldsMissing("POST", f"issue/{key}/transitions", 400,
                                      f"the screen of {offered.get('name')!r} requires {', '.join(missing)}, which "
                                      f"transitions.screen_fields in app.yaml does not give")

    def _field_value(self, change: FieldChange) -> object:
        """The change's value as Jira takes it; a moment or a day in the format of the field's schema."""
        schema_type = None
        if isinstance(change.value, (datetime, date)):
            if self._field_types is None:
                described = self.client.call("GET", self.client.api("field"))
                self._field_types = {f["id"]: (f.get("schema") or {}).get("type") for f in described}
            schema_type = self._field_types.get(change.field)
        return field_value(change.value, self.client.version, schema_type, self.settings.project.zone)

    def _offered(self, ticket: Ticket, status: str, target: Transition) -> dict:
        cache_key = (ticket.type, status)
        if cache_key not in self._transitions:
            self._transitions[cache_key] = self.client.transitions(ticket.key)
        for offered in self._transitions[cache_key]:
            by_name = target.transition is not None and offered.get("name") == target.transition
            by_target = target.transition is None and (offered.get("to") or {}).get("name") == target.to_status
            if by_name or by_target:
                return offered
        names = ", ".join(f"{t.get('name')} -> {(t.get('to') or {}).get('name')}" for t in self._transitions[cache_key])
        wanted = target.transition or f"any transition to {target.to_status!r}"
        raise JiraRefused("GET", f"issue/{ticket.key}/transitions", 200, f"{wanted} is not offered from {status!r} (offered: {names or 'none'})")

    def _write_once(self, key: str, firing_id: str, rule: str, send: Callable[[], None]) -> None:
        """Send once. After an ambiguous failure, a short look in Jira's log; not there yet, the
        write is kept as uncertain (`WriteUncertain`), never sent again here."""
        sent_at = self.wall_clock()
        try:
            send()
        except JiraAmbiguous as error:
            if self._eventually(lambda: self._landed(key, firing_id)):
                log.info("%s: the write had landed despite the error; not resent", key, extra={"issue": key})
                return
            self.uncertain.record(UncertainWrite(firing_id, key, rule, sent_at, str(error)))
            settle = self.settings.limits.uncertain_settle
            raise WriteUncertain(error.method, error.path, error.status,
                                 f"no answer ({error.answer}); kept as uncertain, not sent again before {settle} have "
                                 "passed and the ticket shows it did not land") from None

    def _landed(self, key: str, firing_id: str) -> bool:
        recorded = self.client.issue_property(key, self.settings.automation.property_key) or {}
        return any(entry.get("id") == firing_id for entry in recorded.get("firings") or [])

    def _eventually(self, landed: Callable[[], bool]) -> bool:
        """Whether Jira shows the write within the window; False only once the window has passed."""
        for pause in self.landed_waits:
            if pause:
                self.client.pause(pause)
            if landed():
                return True
        return False

    def _note_landed(self, key: str, note: InternalComment, firing_id: str) -> bool:
        for comment in self.client.comments(key):
            properties = {p.get("key"): p.get("value") for p in comment.get("properties") or [] if isinstance(p, dict)}
            if properties.get(FIRING_PROPERTY) == {"id": firing_id} and _plain(comment.get("body")).startswith(note.body):
                return True
        return False

    def _add_note(self, key: str, note: InternalComment, firing_id: str) -> None:
        mark = {"key": FIRING_PROPERTY, "value": {"id": firing_id}}
        body = {"body": document(note.body, self.client.version, note.mentions), "properties": [JSM_INTERNAL, mark]}

        def landed() -> bool:
            return self._note_landed(key, note, firing_id)

        for attempt in range(1, self.resend_attempts + 1):
            try:
                self.client.add_comment(key, body)
                return
            except JiraAmbiguous:
                if self._eventually(landed):
                    return
                if attempt == self.resend_attempts:
                    raise


def _log_shadow(actions: list[Action]) -> None:
    for rule, group in firings_of(actions).items():
        log.info("%s %s shadow only, not written: %s", group[0].issue, rule, group[0].reason,
                 extra={"issue": group[0].issue, "rule": rule, "dry_run": True})


def _plain(body: object) -> str:
    return adf_to_text(body).strip()
