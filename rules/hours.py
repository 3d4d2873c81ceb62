"""`hours.window` (guide chapter 1; seeds 003/004): the regional desks work Monday to Friday
08:00-17:00 local time, except on public holidays. Durations stay calendar days ("10 days"), but
what the customer sees from the automation is carried out inside the responsible region's working
hours: a customer-facing firing that falls due outside them waits for the next working hour.
Internal notes to agents do not wait.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rules.actions import Action, Deferred, OnCallAlert, PublicComment, Transition, firings_of
from rules.wording import local_time

if TYPE_CHECKING:
    from config.settings import Settings

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
    if calendar.is_working(now):
        return actions
    not_before = calendar.next_working(now)
    kept: list[Action] = []
    for rule, group in firings_of(actions).items():
        # An on-call alert exists for these hours: it and the customer's word of it go at once.
        if not is_customer_facing(group) or any(isinstance(a, OnCallAlert) for a in group):
            kept.extend(group)
            continue
        local = now.astimezone(calendar.zone)
        holiday = calendar.holiday(local.date())
        why = f"a holiday ({holiday})" if holiday else "outside working hours"
        reason = (f"{WINDOW}: due now, but it is {why} in region {region} ({local:%a %Y-%m-%d %H:%M %Z}); "
                  f"carried out from {local_time(not_before, settings)}: {group[0].reason}")
        kept.append(Deferred(group[0].issue, rule, reason, not_before=not_before))
    return kept
