"""Each ticket's next due instant, and when the sweeps last looked: what lets a routine sweep
read only the tickets that are due or changed, instead of the whole backlog every 15 minutes.

Workers and sweeps write a ticket's `next_due` each time they evaluate it (the core computes it:
`rules.catalogue.next_due`). The nightly full pass reads everything and so repairs whatever the
schedule missed (a ticket changed while no one listened, an older version's row)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from jsm_autopilot.errors import StoreUnavailable
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.schema import sweep_marks, ticket_schedule

log = logging.getLogger("jsm_autopilot.schedule")


class TicketSchedule:
    def __init__(self, store: EventStore):
        self.store = store

    def set(self, issue: str, next_due: datetime | None, now: datetime) -> None:
        try:
            with self.store._write() as connection:
                inserted = connection.execute(self.store._insert(ticket_schedule).values(
                    issue=issue, next_due=next_due, read_at=now).on_conflict_do_nothing(index_elements=["issue"])).rowcount
                if not inserted:
                    connection.execute(update(ticket_schedule).where(ticket_schedule.c.issue == issue).values(
                        next_due=next_due, read_at=now))
        except SQLAlchemyError as error:
            # The ticket is read again at the next full pass at the latest; nothing is lost.
            log.warning("schedule of %s not kept: %s", issue, error)

    def due(self, now: datetime, limit: int = 10_000) -> list[str]:
        """Tickets due at `now`, earliest first."""
        try:
            with self.store.engine.connect() as connection:
                return list(connection.execute(select(ticket_schedule.c.issue).where(ticket_schedule.c.next_due <= now)
                                               .order_by(ticket_schedule.c.next_due).limit(limit)).scalars())
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the schedule: {error}") from None

    def upcoming(self, limit: int = 20) -> list[tuple[str, datetime]]:
        """The tickets due with nothing changed in Jira, earliest first (those already due wait
        for the next sweep)."""
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(select(ticket_schedule.c.issue, ticket_schedule.c.next_due)
                                          .where(ticket_schedule.c.next_due.is_not(None)).order_by(ticket_schedule.c.next_due).limit(limit))
                return [(row.issue, row.next_due) for row in rows]
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the schedule: {error}") from None

    def mark(self, name: str, at: datetime) -> None:
        try:
            with self.store._write() as connection:
                done = connection.execute(update(sweep_marks).where(sweep_marks.c.name == name).values(at=at)).rowcount
                if not done:
                    connection.execute(self.store._insert(sweep_marks).values(name=name, at=at).on_conflict_do_nothing(index_elements=["name"]))
        except SQLAlchemyError as error:
            # The next routine sweep then looks further back: it reads more, and misses nothing.
            log.warning("sweep mark %s not kept: %s", name, error)

    def mark_of(self, name: str) -> datetime | None:
        try:
            with self.store.engine.connect() as connection:
                return connection.execute(select(sweep_marks.c.at).where(sweep_marks.c.name == name)).scalar()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the sweep marks: {error}") from None
