"""Write helpers of the event store: group commit for deliveries, and write transactions queued
behind a lock."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine


class StoreUnavailable(Exception):
    """The database cannot be reached or refused the operation."""


class GroupCommit:
    """Group commit for deliveries: each request waits for the commit that holds its row (the 2xx
    still goes out only after it), but the requests that arrive while one commit is flushed to disk
    share the next, instead of each waiting for a flush of its own."""

    def __init__(self, commit):
        self._commit = commit
        self._turn = threading.Condition()
        self._pending: list[list] = []  # [values, outcome]; outcome: None until decided
        self._committing = False

    def add(self, values: dict) -> bool:
        entry = [values, None]
        with self._turn:
            self._pending.append(entry)
            while entry[1] is None and self._committing:
                self._turn.wait()
            if entry[1] is None:  # no commit under way: this request leads the next one
                self._committing = True
                batch, self._pending = self._pending, []
            else:
                batch = []
        if batch:
            try:
                outcomes: list = self._commit([values for values, _ in batch])
            except StoreUnavailable as error:
                outcomes = [error] * len(batch)
            except Exception as error:  # noqa: BLE001  (any: the next leader must still be chosen, or intake stops)
                outcomes = [StoreUnavailable(f"cannot store the delivery: {error!r}")] * len(batch)
            with self._turn:
                for pending, outcome in zip(batch, outcomes):
                    pending[1] = outcome
                self._committing = False
                self._turn.notify_all()
        if isinstance(entry[1], StoreUnavailable):
            raise entry[1]
        return entry[1]


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
