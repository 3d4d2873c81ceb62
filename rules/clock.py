"""Calendar arithmetic for the process's timers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

from jsm_autopilot.rules.model import require_aware


class DurationLike(Protocol):
    """Whole calendar days plus elapsed seconds: config's Duration, or a timedelta."""

    # Read-only, so frozen dataclasses and timedelta both satisfy it.
    @property
    def days(self) -> int: ...

    @property
    def seconds(self) -> int: ...


def add_duration(start: datetime, duration: DurationLike, zone: ZoneInfo) -> datetime:
    """`start` plus the duration's whole calendar days in `zone`, then its elapsed seconds.

    "10 days" to a customer means the same time of day ten dates later, also across a
    daylight-saving change (which makes that 239 or 241 hours). A wall time that does not exist
    (spring forward) resolves to the later side, as zoneinfo's fold=0 does.
    """
    require_aware(start, "start")
    local = start.astimezone(zone)
    # Aware datetime + timedelta is wall-clock arithmetic in Python; astimezone fixes the offset.
    shifted = (local + timedelta(days=duration.days)).astimezone(timezone.utc)
    return (shifted + timedelta(seconds=duration.seconds)).astimezone(zone)


def whole_days_between(start: datetime, end: datetime, zone: ZoneInfo) -> int:
    """Calendar days from start to end as the customer counts them."""
    return (end.astimezone(zone).date() - start.astimezone(zone).date()).days
