"""Working hours and public holidays of a support region (guide chapter 1: "Monday to Friday
08:00-17:00 local time, except on national holidays").

Holidays come from the `holidays` library (countries and their subdivisions, kept up to date by
its maintainers), plus a region's own extra dates and, read by the loader, an iCalendar file of
company days off. Everything here is computation on dates: the rules may ask it freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 400  # a calendar without a working day within a year is a configuration error


@dataclass(frozen=True)
class WorkCalendar:
    name: str
    zone: ZoneInfo
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    country: str | None = None
    subdivision: str | None = None
    extra: frozenset[date] = frozenset()
    _official: dict = field(default_factory=dict, repr=False, compare=False)

    def holiday(self, day: date) -> str | None:
        """The holiday's name, or None on an ordinary day."""
        if day in self.extra:
            return "company day off"
        if self.country is None:
            return None
        table = self._official.get("table")
        if table is None:
            import holidays  # only where a region has public holidays; keeps the CLI's start quick

            table = holidays.country_holidays(self.country, subdiv=self.subdivision)
            self._official["table"] = table
        return table.get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and self.holiday(day) is None

    def is_working(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        return self.is_working_day(local.date()) and self.start <= local.time() < self.end

    def next_working(self, instant: datetime) -> datetime:
        """`instant` itself inside working hours, else the start of the next working hour."""
        if self.is_working(instant):
            return instant
        local = instant.astimezone(self.zone)
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            if self.is_working_day(day):
                return datetime.combine(day, self.start, tzinfo=self.zone)
            day += timedelta(days=1)
        raise ValueError(f"region {self.name} has no working day within {SEARCH_DAYS} days")

    def is_open(self, instant: datetime, business_hours_only: bool = False) -> bool:
        """Whether the desk works at `instant`: on every weekday that is not a holiday, around the
        clock (the international team); only in the region's hours when `business_hours_only`."""
        if business_hours_only:
            return self.is_working(instant)
        return self.is_working_day(instant.astimezone(self.zone).date())

    def next_open(self, instant: datetime, business_hours_only: bool = False) -> datetime:
        """`instant` itself when open, else the start of the next open day (00:00 local), or of the
        next working hour when `business_hours_only`."""
        if business_hours_only:
            return self.next_working(instant)
        if self.is_open(instant):
            return instant
        day = instant.astimezone(self.zone).date() + timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            if self.is_working_day(day):
                return datetime.combine(day, time(0), tzinfo=self.zone)
            day += timedelta(days=1)
        raise ValueError(f"region {self.name} has no working day within {SEARCH_DAYS} days")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (the SLA clocks of guide 2.5.1 run only in it)."""
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            if self.is_working_day(day):
                opens = datetime.combine(day, self.start, tzinfo=self.zone)
                closes = datetime.combine(day, self.end, tzinfo=self.zone)
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def after_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which `amount` of working time has passed since `start`."""
        remaining = amount
        day = start.astimezone(self.zone).date()
        for _ in range(SEARCH_DAYS * 10):
            if self.is_working_day(day):
                opens = max(datetime.combine(day, self.start, tzinfo=self.zone), start)
                closes = datetime.combine(day, self.end, tzinfo=self.zone)
                if opens < closes:
                    if remaining <= closes - opens:
                        return (opens + remaining).astimezone(self.zone)
                    remaining -= closes - opens
            day += timedelta(days=1)
        raise ValueError(f"region {self.name}: {amount} of working time does not pass within {SEARCH_DAYS * 10} days")

    @property
    def working_day(self) -> timedelta:
        """The length of one working day: what `1d` of an SLA target means in this region."""
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)

    def next_holidays(self, after: date, count: int = 5) -> list[tuple[date, str]]:
        """The next holidays that fall on a working weekday (those are the ones that matter)."""
        found, day = [], after
        for _ in range(SEARCH_DAYS * 2):
            name = self.holiday(day)
            if name is not None and day.weekday() in self.days:
                found.append((day, name))
                if len(found) == count:
                    break
            day += timedelta(days=1)
        return found

    def describe_hours(self) -> str:
        numbers = sorted(self.days)
        contiguous = len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1))
        listed = f"{WEEKDAYS[numbers[0]]}-{WEEKDAYS[numbers[-1]]}" if contiguous else ", ".join(WEEKDAYS[d] for d in numbers)
        where = f"{self.country}-{self.subdivision}" if self.subdivision else (self.country or "no public holidays")
        return f"{listed} {self.start:%H:%M}-{self.end:%H:%M} {self.zone.key}, holidays of {where}"


def dates_from_ics(path: Path) -> frozenset[date]:
    """Every day an iCalendar file's events cover (all-day or timed, several days or one)."""
    from icalendar import Calendar

    calendar = Calendar.from_ical(path.read_bytes())
    days: set[date] = set()
    for event in calendar.walk("VEVENT"):
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND") if event.get("DTEND") is not None else None
        first = start.date() if isinstance(start, datetime) else start
        if end is None:
            days.add(first)
            continue
        last = end.date() if isinstance(end, datetime) else end - timedelta(days=1)  # DTEND of an all-day event is exclusive
        day = first
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return frozenset(days)


def weekday_numbers(names: Iterable[str]) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(n) for n in names)
