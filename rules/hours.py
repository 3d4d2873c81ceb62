"""`hours.window` (guide chapter 1; seeds 003/004): "On weekdays, the imc Service Desk is manned
around the clock"; the regional desk works Monday to Friday 08:00-17:00 local time, "except on
national holidays", and on weekends and public holidays requests are not processed. So what the
customer sees from the automation waits over the region's closed days (weekends, public holidays)
until the start (00:00 local) of the next open day; `service_hours.business_hours_only` makes it
wait for the regional desk's hours as well. Durations stay calendar days. Internal notes to agents
never wait.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from jsm_autopilot.rules.actions import Action, Deferred, OnCallAlert, PublicComment, Transition, firings_of
from jsm_autopilot.rules.wording import local_time

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

WINDOW = "hours.window"


def is_customer_facing(group: list[Action]) -> bool:
    """A firing the customer notices: a public comment, or a status change their portal shows."""
    return any(isinstance(a, (PublicComment, Transition)) for a in group)


def within_hours(actions: list[Action], organisation: str | None, now: datetime, settings: "Settings") -> list[Action]:
    """`actions` as they may happen at `now`: customer-facing firings outside the region's working
    hours become one `Deferred` each; the rest is unchanged."""
    if not actions or not settings.is_enabled(WINDOW):
        return actions
    region = settings.region_of(organisation)
    if region is None:
        return actions
    calendar = settings.calendar_of(region)
    business_hours_only = settings.service_hours.business_hours_only
    if calendar.is_open(now, business_hours_only):
        return actions
    not_before = calendar.next_open(now, business_hours_only)
    kept: list[Action] = []
    for rule, group in firings_of(actions).items():
        # An on-call alert exists for these hours: it and the customer's word of it go at once.
        if not is_customer_facing(group) or any(isinstance(a, OnCallAlert) for a in group):
            kept.extend(group)
            continue
        local = now.astimezone(calendar.zone)
        holiday = calendar.holiday(local.date())
        why = f"a holiday ({holiday})" if holiday else "outside working hours" if calendar.is_working_day(local.date()) else "a weekend"
        reason = (f"{WINDOW}: due now, but it is {why} in region {region} ({local:%a %Y-%m-%d %H:%M %Z}); "
                  f"carried out from {local_time(not_before, settings)}: {group[0].reason}")
        kept.append(Deferred(group[0].issue, rule, reason, not_before=not_before))
    return kept
