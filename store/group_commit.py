"""Write helpers of the event store: group commit for deliveries, and write transactions queued
behind a lock."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from jsm_autopilot.errors import StoreUnavailable


class _Waiting:
    """One request in line for a commit. `woken` is held until the leader lets the request go,
    with its outcome, or without one to lead the next commit."""

    __slots__ = ("values", "outcome", "woken")

    def __init__(self, values: dict):
        self.values, self.outcome = values, None
        self.woken = threading.Lock()
        self.woken.acquire()


class GroupCommit:
    """Group commit for deliveries: each request waits for the commit that holds its row (the 2xx
    still goes out only after it), but the requests that arrive while one commit is flushed to disk
    share the next, instead of each waiting for a flush of its own.

    Each waiting request has a lock of its own, which the leader releases: one wake-up a request.
    (A shared condition woke every waiter at each commit, and each then competed for the
    condition's lock again before it could answer.)"""

    def __init__(self, commit):
        self._commit = commit
        self._line = threading.Lock()
        self._pending: list[_Waiting] = []
        self._committing = False

    def add(self, values: dict) -> bool:
        return self.add_many([values])[0]

    def add_many(self, rows: list[dict]) -> list:
        """Each row's outcome, all from one commit: the rows join the line together, so the
        leader that takes the first takes them all."""
        if not rows:
            return []
        mine = [_Waiting(values) for values in rows]
        first = mine[0]
        with self._line:
            self._pending.extend(mine)
            leads = not self._committing
            self._committing = True
        if not leads:
            first.woken.acquire()
        if first.outcome is None:  # no commit under way, or the last leader handed over
            self._lead(first)
        if isinstance(first.outcome, StoreUnavailable):
            raise first.outcome
        return [waiting.outcome for waiting in mine]

    def _lead(self, mine: _Waiting) -> None:
        with self._line:
            batch, self._pending = self._pending, []
        try:
            outcomes: list = self._commit([waiting.values for waiting in batch])
            if len(outcomes) != len(batch):  # a waiter left without an outcome would think it leads
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} deliveries")
        except StoreUnavailable as error:
            outcomes = [error] * len(batch)
        except Exception as error:  # noqa: BLE001  (any: the next leader must still be chosen, or intake stops)
            outcomes = [StoreUnavailable(f"cannot store the delivery: {error!r}")] * len(batch)
        for waiting, outcome in zip(batch, outcomes):
            waiting.outcome = outcome
        with self._line:
            successor = self._pending[0] if self._pending else None
            self._committing = successor is not None
        if successor is not None:  # first, so that its commit is under way while the others wake
            successor.woken.release()
        for waiting in batch:
            if waiting is not mine:
                waiting.woken.release()


class Locked:
    """A write transaction behind `lock` (SQLite: one writer at a time in this process)."""

    def __init__(self, lock, engine: Engine):
        self.lock, self.engine = lock, engine

    def __enter__(self):
        self.lock.__enter__()
        try:
            self.transaction = self.engine.begin()
            return self.transaction.__enter__()
        except BaseException:
            self.lock.__exit__(None, None, None)
            raise

    def __exit__(self, *exc):
        try:
            return self.transaction.__exit__(*exc)
        finally:
            self.lock.__exit__(None, None, None)
