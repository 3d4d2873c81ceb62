"""`oncall.alert` (guide chapter 1: "On weekends and public holidays, serious incidents can be
reported via the ticket system, which alerts the on-call service"). A new Incident raised outside
its region's working hours that is serious (a priority of `oncall.priorities`, or an urgency of
`oncall.urgent_values`) alerts the on-call service at once, and the customer hears that it did.
Other requests are not processed at these times: they get nothing until the next working hour.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rules.actions import Action, OnCallAlert, audit_note
from rules.model import Ticket, require_aware
from rules.reclassify import recent
from rules.wording import local_time, public_comment

if TYPE_CHECKING:
    from config.settings import Settings

ALERT = "oncall.alert"


def alert_level(ticket: Ticket, settings: "Settings") -> str:
    """P1..P4 from the ticket's priority; an urgent request without a serious priority counts as P2."""
    for role in ("p1", "p2", "p3", "p4"):
        if ticket.priority == getattr(settings.priorities, role):
            return role.upper() if role in settings.oncall.priorities else "P2"
    return "P2"


def is_serious(ticket: Ticket, settings: "Settings") -> bool:
    priorities = {getattr(settings.priorities, role) for role in settings.oncall.priorities}
    urgency = ticket.custom_fields.get("urgency")
    return ticket.priority in priorities or (urgency is not None and str(urgency) in settings.oncall.urgent_values)


def alert_on_call(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """Alert once per ticket; the customer is told in a public comment."""
    require_aware(now, "now")
    if not ticket.complete or ticket.type != settings.issue_types.incident or ticket.fired(ALERT):
        return []
    if ticket.status in (settings.statuses.resolved, settings.statuses.closed) or not recent(ticket.created, now, settings):
        return []
    region = settings.region_of(ticket.organisation)
    if region is None or not is_serious(ticket, settings):
        return []
    calendar = settings.calendar_of(region)
    if calendar.is_working(ticket.created):
        return []  # raised while the desk works: the desk handles it
    reason = (f"a {ticket.priority or 'serious'} Incident raised on {local_time(ticket.created, settings)}, outside the "
              f"working hours of region {region}: the on-call service is alerted")
    return [OnCallAlert(ticket.key, ALERT, reason, summary=ticket.summary, priority=ticket.priority, region=region,
                        dedupe_key=f"jsm-autopilot:{ticket.key}:{ALERT}", level=alert_level(ticket, settings)),
            public_comment(ticket, ALERT, reason, "oncall_alerted", settings),
            audit_note(ticket.key, ALERT, reason)]
