"""`oncall.alert` (guide chapter 1: "On weekends and public holidays, serious incidents can be
reported via the ticket system, which alerts the on-call service"). A new Incident raised on its
region's weekend or public holiday that is serious alerts the on-call service at once, and the
customer hears that it did; on weekday nights the international team is there, so nobody is paged.
Serious: a priority of `oncall.priorities`; without a priority (customers cannot set one), an
urgency or impact of `oncall.urgent_values`/`impact_values`, else an outage phrase in its text.
Other requests are not processed on closed days: they get nothing until the next open day.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from jsm_autopilot.rules.actions import Action, OnCallAlert, audit_note
from jsm_autopilot.rules.model import Ticket, require_aware
from jsm_autopilot.rules.reclassify import recent
from jsm_autopilot.rules.wording import local_time, public_comment

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

ALERT = "oncall.alert"


def alert_level(ticket: Ticket, settings: "Settings") -> str:
    """P1..P4 from the ticket's priority, else the rank a serious Incident without one counts as."""
    for role in ("p1", "p2", "p3", "p4"):
        if ticket.priority == getattr(settings.priorities, role):
            return role.upper() if role in settings.oncall.priorities else settings.oncall.unprioritised_as.upper()
    return settings.oncall.unprioritised_as.upper()


def why_serious(ticket: Ticket, settings: "Settings") -> str | None:
    """What makes a new Incident serious, or None: the priority if an agent set one; else, since
    customers cannot set one on the portal (guide 2.5), its urgency or impact, else its text."""
    oncall = settings.oncall
    if ticket.priority is not None:
        serious = {getattr(settings.priorities, role) for role in oncall.priorities}
        return f"priority {ticket.priority}" if ticket.priority in serious else None
    for name, values in (("urgency", oncall.urgent_values), ("impact", oncall.impact_values)):
        value = ticket.custom_fields.get(name)
        if value is not None and str(value) in values:
            return f"{name} {value}"
    text = f"{ticket.summary}\n{ticket.description}".casefold()
    for phrases in oncall.outage_phrases.values():
        for phrase in phrases:
            if re.search(rf"(?<!\w){re.escape(phrase.casefold())}(?!\w)", text):
                return f"its text ({phrase!r})"
    return None


def effective_priority(ticket: Ticket, settings: "Settings") -> str | None:
    """The ticket's priority, or for a serious one without a priority the rank it counts as."""
    if ticket.priority is not None:
        return ticket.priority
    if ticket.type == settings.issue_types.incident and why_serious(ticket, settings) is not None:
        return getattr(settings.priorities, settings.oncall.unprioritised_as)
    return None


def alert_on_call(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """Alert once per ticket; the customer is told in a public comment."""
    require_aware(now, "now")
    if not ticket.complete or ticket.type != settings.issue_types.incident or ticket.fired(ALERT):
        return []
    if ticket.status in (settings.statuses.resolved, settings.statuses.closed) or not recent(ticket.created, now, settings):
        return []
    assert ticket.created is not None  # recent() is False without one
    region = settings.region_of(ticket.organisation)
    serious = why_serious(ticket, settings)
    if region is None or serious is None:
        return []
    calendar = settings.calendar_of(region)
    local = ticket.created.astimezone(calendar.zone)
    if calendar.is_working_day(local.date()):
        return []  # a weekday, day or night: the desk (the international team at night) handles it
    closed = calendar.holiday(local.date()) or "a weekend"
    reason = (f"a serious Incident ({serious}) raised on {local_time(ticket.created, settings)}, on {closed} "
              f"in region {region}: the on-call service is alerted")
    return [OnCallAlert(ticket.key, ALERT, reason, summary=ticket.summary, priority=ticket.priority, region=region,
                        dedupe_key=f"jsm-autopilot:{ticket.key}:{ALERT}", level=alert_level(ticket, settings)),
            public_comment(ticket, ALERT, reason, "oncall_alerted", settings),
            audit_note(ticket.key, ALERT, reason)]
