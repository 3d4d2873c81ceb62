"""Uncertain writes in the store (connector/uncertain.py says what they are), so that a restart or
another replica does not send again what Jira may still apply."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from jsm_autopilot.connector.uncertain import UncertainWrite
from jsm_autopilot.errors import StoreUnavailable
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.schema import uncertain_writes


class StoredUncertain:
    def __init__(self, store: EventStore):
        self.store = store

    def record(self, write: UncertainWrite) -> None:
        try:
            with self.store._write() as connection:
                connection.execute(self.store._insert(uncertain_writes).values(
                    firing_id=write.firing_id, issue=write.issue, rule=write.rule, sent_at=write.sent_at,
                    error=write.error[:2000]).on_conflict_do_nothing(index_elements=["firing_id"]))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot keep the uncertain write {write.firing_id}: {error}") from None

    def waiting(self, issue: str, rule: str) -> UncertainWrite | None:
        found = self._read(select(uncertain_writes).where(uncertain_writes.c.issue == issue, uncertain_writes.c.rule == rule,
                                                          uncertain_writes.c.landed.is_(None)).order_by(uncertain_writes.c.sent_at))
        return found[0] if found else None

    def open(self) -> list[UncertainWrite]:
        return self._read(select(uncertain_writes).where(uncertain_writes.c.landed.is_(None)).order_by(uncertain_writes.c.sent_at))

    def count_open(self) -> int:
        try:
            with self.store.engine.connect() as connection:
                return connection.execute(select(func.count()).select_from(uncertain_writes).where(
                    uncertain_writes.c.landed.is_(None))).scalar() or 0
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot count uncertain writes: {error}") from None

    def settled(self, firing_id: str, landed: bool, now: datetime) -> None:
        try:
            with self.store._write() as connection:
                connection.execute(update(uncertain_writes).where(uncertain_writes.c.firing_id == firing_id).values(
                    landed=landed, settled_at=now))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot settle the uncertain write {firing_id}: {error}") from None

    def _read(self, query) -> list[UncertainWrite]:
        try:
            with self.store.engine.connect() as connection:
                return [UncertainWrite(r.firing_id, r.issue, r.rule, r.sent_at, r.error, r.landed, r.settled_at)
                        for r in connection.execute(query).all()]
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read uncertain writes: {error}") from None
