"""Firings per day and rule for the overview's chart: pure, from the audit trail's rows."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo


def firings_per_day(firings: Iterable[tuple[datetime, str]], today: date, days: int, zone: ZoneInfo) -> dict:
    """{"days": ["2026-11-09", ...], "rules": {rule: [count per day]}} for the `days` days up to
    `today` in the project's zone; days without firings count 0, rules are sorted."""
    first = today - timedelta(days=days - 1)
    counted: Counter = Counter()
    for at, rule in firings:
        day = at.astimezone(zone).date()
        if first <= day <= today:
            counted[(rule, day)] += 1
    labels = [first + timedelta(days=n) for n in range(days)]
    rules = sorted({rule for rule, _ in counted})
    return {"days": [day.isoformat() for day in labels], "rules": {rule: [counted[(rule, day)] for day in labels] for rule in rules}}
