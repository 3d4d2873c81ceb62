"""How the sweep and the workers hold a ticket while they decide and write (see service/guard.py)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import ContextManager, Iterator, Protocol


@dataclass
class Hold:
    key: str
    # When any actor last wrote to this ticket (None: unknown or never).
    last_write: datetime | None
    wrote_at: datetime | None = None

    def changed_since(self, read_at: datetime) -> bool:
        return self.last_write is not None and self.last_write >= read_at

    def wrote(self, at: datetime) -> None:
        self.wrote_at = at


class Guard(Protocol):
    def hold(self, key: str) -> ContextManager[Hold]: ...


class NoGuard:
    """For a lone `sweep --once`, which holds its own lock (connector/exclusive.py)."""

    @contextmanager
    def hold(self, key: str) -> Iterator[Hold]:
        yield Hold(key, None)
