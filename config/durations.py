"""Durations as admins write them in app.yaml: `10d`, `2w`, `12h`, `1d12h`, `90m`, `30s`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

# A regular expression is enough here: the grammar is four units, and the libraries that parse
# free-form durations (pytimeparse and forks) accept far more than we want an admin to rely on.
_PART = re.compile(r"(\d+)\s*([wdhms])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[wdhms]\s*)+$")


@dataclass(frozen=True, order=True)
class Duration:
    """Whole days are calendar days in the site's time zone; hours and minutes are elapsed time."""

    days: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: object) -> "Duration":
        if isinstance(text, Duration):
            return text
        if not isinstance(text, str) or not _WHOLE.match(text):
            raise ValueError(
                f"expected a duration like 10d, 2w, 12h, 30m or 30s, got {text!r}"
            )
        days = seconds = 0
        for amount, unit in _PART.findall(text):
            n = int(amount)
            if unit == "w":
                days += 7 * n
            elif unit == "d":
                days += n
            elif unit == "h":
                seconds += 3600 * n
            elif unit == "m":
                seconds += 60 * n
            else:
                seconds += n
        if days == 0 and seconds == 0:
            raise ValueError(f"a duration must be longer than zero, got {text!r}")
        return cls(days=days, seconds=seconds)

    @property
    def nominal(self) -> timedelta:
        """Length ignoring daylight-saving shifts; for display and ordering only."""
        return timedelta(days=self.days, seconds=self.seconds)

    def __str__(self) -> str:
        parts = []
        if self.days:
            parts.append(f"{self.days}d")
        hours, rest = divmod(self.seconds, 3600)
        if hours:
            parts.append(f"{hours}h")
        minutes, seconds = divmod(rest, 60)
        if minutes:
            parts.append(f"{minutes}m")
        if seconds:
            parts.append(f"{seconds}s")
        return "".join(parts) or "0s"

    def __add__(self, other: "Duration") -> "Duration":
        return Duration(self.days + other.days, self.seconds + other.seconds)
