"""Incidents in the store, shared by every replica: each kind is open or over, and exactly one
replica wins the right to announce its start (a conditional UPDATE) and to announce its end (the
UPDATE that ends it). So several replicas send one message between them, not one each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from jsm_autopilot.errors import StoreUnavailable
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.schema import incidents


@dataclass(frozen=True)
class Incident:
    kind: str
    started: datetime
    last_seen: datetime
    detail: str
    times: int
    announced: datetime | None
    ended: datetime | None


class IncidentLog:
    def __init__(self, store: EventStore):
        self.store = store

    def open(self) -> dict[str, Incident]:
        """The incidents that last, by kind."""
        return {found.kind: found for found in self._read(select(incidents).where(incidents.c.ended.is_(None)))}

    def get(self, kind: str) -> Incident | None:
        found = self._read(select(incidents).where(incidents.c.kind == kind))
        return found[0] if found else None

    def seen(self, kind: str, detail: str, now: datetime) -> None:
        """It is happening now: open the incident (again, after one that ended), or count it."""
        try:
            with self.store._write() as connection:
                connection.execute(self.store._insert(incidents).values(
                    kind=kind, started=now, last_seen=now, detail=detail[:2000], times=0).on_conflict_do_nothing(index_elements=["kind"]))
                # One that ended is a new incident: its own start, detail and announcement.
                connection.execute(update(incidents).where(incidents.c.kind == kind, incidents.c.ended.is_not(None)).values(
                    started=now, last_seen=now, detail=detail[:2000], times=0, announced=None, ended=None))
                connection.execute(update(incidents).where(incidents.c.kind == kind).values(
                    times=incidents.c.times + 1, last_seen=now))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot record the incident {kind}: {error}") from None

    def claim_start(self, kind: str, now: datetime, after: timedelta) -> Incident | None:
        """The open incident, if it has lasted `after` and nobody announced it: this caller does."""
        return self._claim(update(incidents).where(
            incidents.c.kind == kind, incidents.c.ended.is_(None), incidents.c.announced.is_(None),
            incidents.c.started <= now - after).values(announced=now), kind)

    def unclaim_start(self, kind: str, announced: datetime) -> None:
        """The start message could not be sent: a later check tries again."""
        self._execute(update(incidents).where(incidents.c.kind == kind, incidents.c.announced == announced).values(announced=None))

    def end(self, kind: str, now: datetime) -> Incident | None:
        """It is over; the ended incident when this caller ended it (and so tells of its end)."""
        return self._claim(update(incidents).where(incidents.c.kind == kind, incidents.c.ended.is_(None)).values(ended=now), kind)

    def _claim(self, statement, kind: str) -> Incident | None:
        try:
            with self.store._write() as connection:
                if connection.execute(statement).rowcount != 1:
                    return None
                row = connection.execute(select(incidents).where(incidents.c.kind == kind)).one()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot update the incident {kind}: {error}") from None
        return Incident(*row)

    def _execute(self, statement) -> None:
        try:
            with self.store._write() as connection:
                connection.execute(statement)
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot update the incidents: {error}") from None

    def _read(self, query) -> list[Incident]:
        try:
            with self.store.engine.connect() as connection:
                return [Incident(*row) for row in connection.execute(query).all()]
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the incidents: {error}") from None
