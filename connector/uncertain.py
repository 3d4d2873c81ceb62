"""Writes whose answer never came (a timeout, a dropped connection, a gateway's 5xx): Jira may
still apply them minutes later. Such a write is kept as uncertain and never sent again blindly:
only once the settle time (`limits.uncertain_settle`, on the service's own clock) has passed since
it was sent, and the ticket read again does not show its firing, does the rule fire anew.

The store keeps them for `serve` and for commands run with a store (store/uncertain.py); a
command without one keeps them for its own run (`RunUncertain`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class UncertainWrite:
    firing_id: str
    issue: str
    rule: str
    sent_at: datetime  # the service's clock, when the write went out
    error: str  # what came back instead of an answer
    landed: bool | None = None  # None while uncertain; then whether Jira showed it
    settled_at: datetime | None = None

    def as_json(self) -> dict:
        return {"firing_id": self.firing_id, "issue": self.issue, "rule": self.rule, "sent_at": self.sent_at.isoformat(),
                "error": self.error}


class UncertainKeeper(Protocol):
    def record(self, write: UncertainWrite) -> None: ...

    def waiting(self, issue: str, rule: str) -> UncertainWrite | None: ...

    def open(self) -> list[UncertainWrite]: ...

    def settled(self, firing_id: str, landed: bool, now: datetime) -> None: ...


class RunUncertain:
    """Uncertain writes kept for one process's life (a command run without a store)."""

    def __init__(self) -> None:
        self._writes: dict[str, UncertainWrite] = {}
        self._lock = threading.Lock()

    def record(self, write: UncertainWrite) -> None:
        with self._lock:
            self._writes[write.firing_id] = write

    def waiting(self, issue: str, rule: str) -> UncertainWrite | None:
        with self._lock:
            return next((w for w in self._writes.values() if w.issue == issue and w.rule == rule and w.landed is None), None)

    def open(self) -> list[UncertainWrite]:
        with self._lock:
            return [w for w in self._writes.values() if w.landed is None]

    def settled(self, firing_id: str, landed: bool, now: datetime) -> None:
        with self._lock:
            self._writes[firing_id] = replace(self._writes[firing_id], landed=landed, settled_at=now)
