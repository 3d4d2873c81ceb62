"""The ticket snapshot the rules decide on: what Jira shows of one issue at one moment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import Mapping


class Role(str, Enum):
    CUSTOMER = "customer"  # the reporter, a request participant or a member of the organisation, not an agent
    AGENT = "agent"  # an agent of the project, or anyone else on the site who is not the customer
    AUTOMATION = "automation"  # jsm-autopilot's own account
    APP = "app"  # another app (Automation for Jira, ...): neither the customer nor an agent's answer


def require_aware(value: datetime, what: str) -> datetime:
    """Naive datetimes are refused: a wall-clock time without a zone has no single instant."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime ({value.isoformat()}); give it a time zone")
    return value


@dataclass(frozen=True)
class Comment:
    id: str
    author: str
    role: Role
    public: bool
    created: datetime
    body: str = ""
    # The rule the automation wrote this comment for, recognised from Jira (see connector.mapping).
    rule: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.created, f"comment {self.id} created")


@dataclass(frozen=True)
class Firing:
    """One past firing of a rule, as the automation recorded it on the issue (see connector.mapping)."""

    rule: str
    at: datetime
    id: str = ""
    # Which step of a rule with several (an SLA warning, then its miss); "" for one-step rules.
    stage: str = ""

    def __post_init__(self) -> None:
        require_aware(self.at, f"firing {self.rule} at")


@dataclass(frozen=True)
class Link:
    """A link from this ticket to another issue, as Jira shows it on this ticket."""

    id: str
    other: str  # the other issue's key
    type: str  # the link type's name
    other_type: str | None = None  # the other issue's type, when Jira said


@dataclass(frozen=True)
class FieldHistory:
    """One change of a field the settings name, from the changelog (values as Jira wrote them)."""

    field: str  # the name under `fields` in app.yaml, e.g. "estimated_delivery_date"
    old: str | None
    new: str | None
    at: datetime

    def __post_init__(self) -> None:
        require_aware(self.at, f"change of {self.field} at")


@dataclass(frozen=True)
class Ticket:
    key: str
    type: str
    status: str
    # When the ticket entered its current status; None when the snapshot cannot tell.
    status_since: datetime | None
    created: datetime | None = None
    priority: str | None = None
    organisation: str | None = None
    language: str = "en"
    resolved: datetime | None = None
    reporter: str | None = None
    participants: frozenset[str] = frozenset()
    comments: tuple[Comment, ...] = ()
    summary: str = ""
    description: str = ""
    custom_fields: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    # What the automation already did to this ticket, read back from Jira.
    firings: tuple[Firing, ...] = ()
    # When the current issue type was set (an agent's reclassification), and the security level.
    type_since: datetime | None = None
    security_level: str | None = None
    # How the ticket came in ("email", "portal", ...), when the connector asked Jira; None: unknown.
    channel: str | None = None
    # False for the trimmed issue inside some webhook payloads: rules do not decide on those.
    complete: bool = True
    links: tuple[Link, ...] = ()
    # Changes of the fields app.yaml names (delivery version, estimated date, ...), oldest first.
    field_changes: tuple[FieldHistory, ...] = ()

    def __post_init__(self) -> None:
        for name in ("status_since", "created", "resolved", "type_since"):
            value = getattr(self, name)
            if value is not None:
                require_aware(value, f"{self.key} {name}")
        ordered = tuple(sorted(self.comments, key=lambda c: (c.created, c.id)))
        object.__setattr__(self, "comments", ordered)
        object.__setattr__(self, "firings", tuple(sorted(self.firings, key=lambda f: f.at)))
        object.__setattr__(self, "participants", frozenset(self.participants))
        object.__setattr__(self, "links", tuple(self.links))
        object.__setattr__(self, "field_changes", tuple(sorted(self.field_changes, key=lambda c: c.at)))
        object.__setattr__(self, "custom_fields", MappingProxyType(dict(self.custom_fields)))

    def comments_by(self, role: Role, after: datetime | None = None) -> tuple[Comment, ...]:
        """Comments of one role, oldest first, created strictly after `after` when given."""
        return tuple(
            c for c in self.comments if c.role is role and (after is None or c.created > after)
        )

    def fired(self, rule: str, after: datetime | None = None, since: datetime | None = None) -> tuple[Firing, ...]:
        """Past firings of one rule, oldest first: strictly after `after`, or at or after `since`
        (a reaction in the same instant as the change it reacts to still counts)."""
        return tuple(
            f for f in self.firings
            if f.rule == rule and (after is None or f.at > after) and (since is None or f.at >= since)
        )

    def changes_of(self, field: str, after: datetime | None = None) -> tuple[FieldHistory, ...]:
        return tuple(c for c in self.field_changes if c.field == field and (after is None or c.at > after))

    def last_customer_comment(self, after: datetime | None = None) -> Comment | None:
        found = self.comments_by(Role.CUSTOMER, after)
        return found[-1] if found else None
