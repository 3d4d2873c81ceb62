"""What a rule asks for. Each action names the rule that fired and a reason a person can read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import ClassVar

AUDIT_PREFIX = "jsm-autopilot"
# The stage of a logged firing Jira refused for a reason no retry fixes (a screen field nobody maps).
REFUSED = "refused"


@dataclass(frozen=True)
class Action:
    issue: str
    rule: str
    reason: str
    kind: ClassVar[str] = "action"

    def as_json(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class PublicComment(Action):
    """A comment the customer sees, rendered from a template in their language."""

    body: str
    language: str
    template: str
    kind: ClassVar[str] = "public_comment"


@dataclass(frozen=True)
class InternalComment(Action):
    """A note only agents see; every firing leaves one naming the rule. `mentions` are Jira
    accounts the note mentions (and so notifies): an escalation's team lead."""

    body: str
    mentions: tuple[str, ...] = ()
    # The step of a multi-step rule this note records (sla.*: "warning", "missed"); kept in the firing log.
    stage: str = ""
    kind: ClassVar[str] = "internal_comment"


@dataclass(frozen=True)
class TypeSuggestion(InternalComment):
    """An internal note suggesting a target type, with the words that led to it."""

    suggestion: str = ""
    matched: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transition(Action):
    to_status: str
    # None: use whichever transition leads to `to_status`.
    transition: str | None = None
    kind: ClassVar[str] = "transition"


@dataclass(frozen=True)
class OnCallAlert(Action):
    """An alert to the on-call service (oncall.alert): sent at once, even outside working hours.
    `dedupe_key` is the same for every attempt, so a receiver can tell a resend from a new alert."""

    summary: str
    priority: str | None
    region: str
    dedupe_key: str
    level: str = "P3"  # P1..P5, as JSM operations ranks alerts
    kind: ClassVar[str] = "oncall_alert"


@dataclass(frozen=True)
class Deferred(Action):
    """A customer-facing firing that fell due outside the region's working hours (`hours.window`):
    nothing is written now; it is carried out from `not_before` on."""

    not_before: datetime
    kind: ClassVar[str] = "deferred"

    def as_json(self) -> dict:
        return {"kind": self.kind, "issue": self.issue, "rule": self.rule, "reason": self.reason,
                "not_before": self.not_before.isoformat()}


def due_now(actions: list["Action"]) -> list["Action"]:
    """The actions to carry out now: all but those waiting for working hours."""
    return [a for a in actions if not isinstance(a, Deferred)]


@dataclass(frozen=True)
class LinkedIssue(Action):
    """An issue in another project (product management), linked to this ticket. Its summary names
    the ticket only: the customer's text stays in the service desk."""

    project: str
    issue_type: str
    summary: str
    link_type: str
    kind: ClassVar[str] = "linked_issue"


@dataclass(frozen=True)
class FieldChange(Action):
    field: str
    # A Jira field value; a `Table` the connector writes as ADF or wiki markup; a datetime or date
    # the connector writes in the format the field's schema asks for.
    value: object
    kind: ClassVar[str] = "field_change"

    def as_json(self) -> dict:
        shown = self.value.isoformat() if isinstance(self.value, (datetime, date)) else self.value
        return {**super().as_json(), "value": shown}


@dataclass(frozen=True)
class Table:
    """A heading line and a table, for a rich-text field (a Delivery ticket's description)."""

    heading: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class IssueLinkChange(Action):
    """Link this ticket to `other` (or remove the link `link_id`); adding twice links once."""

    other: str
    link_type: str
    add: bool = True
    link_id: str | None = None
    kind: ClassVar[str] = "issue_link"


def firings_of(actions: list[Action]) -> dict[str, list[Action]]:
    """Actions grouped by the rule that fired them, in order: one firing per rule and ticket."""
    firings: dict[str, list[Action]] = {}
    for action in actions:
        firings.setdefault(action.rule, []).append(action)
    return firings


def audit_note(issue: str, rule: str, reason: str) -> InternalComment:
    """The internal comment that tells agents which rule fired and why."""
    return InternalComment(
        issue=issue, rule=rule, reason=reason, body=f"{AUDIT_PREFIX} · {rule}: {reason}"
    )


def rule_named_in_audit_note(body: str) -> str | None:
    """The rule id an audit note names, so the automation recognises its own notes in Jira."""
    prefix = f"{AUDIT_PREFIX} · "
    if not body.startswith(prefix):
        return None
    rule, separator, _ = body[len(prefix):].partition(":")
    return rule.strip() if separator and rule.strip() else None
