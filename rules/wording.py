"""What rules share when they speak: local times in reasons, and public comments from templates."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from jsm_autopilot.rules.actions import PublicComment
from jsm_autopilot.rules.model import Ticket

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings


def local_time(instant: datetime, settings: "Settings") -> str:
    """An instant as agents read it: the site's time zone."""
    return instant.astimezone(settings.project.zone).strftime("%Y-%m-%d %H:%M %Z")


def customer_zone(ticket: Ticket, settings: "Settings") -> tzinfo:
    """Where the customer reads a date or time: their region's zone, else the site's."""
    region = settings.region_of(ticket.organisation)
    return settings.calendar_of(region).zone if region is not None else settings.project.zone


def customer_language(ticket: Ticket, settings: "Settings") -> str:
    return ticket.language if ticket.language in ("en", "de") else settings.language.default


def public_comment(ticket: Ticket, rule: str, reason: str, template: str, settings: "Settings", **variables: object) -> PublicComment:
    """A comment the customer sees, from `template` in the customer's language."""
    language = customer_language(ticket, settings)
    labels = settings.language
    body = settings.texts.render(language, template, key=ticket.key, desk=labels.desk_name,
                                 resolved_status=labels.status_label(language, "resolved", settings.statuses.resolved),
                                 closed_status=labels.status_label(language, "closed", settings.statuses.closed), **variables)
    return PublicComment(ticket.key, rule, reason, body=body, language=language, template=template)
