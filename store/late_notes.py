"""Internal notes to write later: a firing whose customer-facing write (and its record in the
firing log) reached Jira, while the note for agents that follows it failed. Jira already holds
the firing, so no rule fires again to repeat the note; it is kept here and written by the next
sweep or worker, recognised in Jira by its firing id should an earlier try have landed."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from jsm_autopilot.errors import StoreUnavailable
from jsm_autopilot.rules.actions import InternalComment
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.schema import late_notes

log = logging.getLogger("jsm_autopilot.late_notes")


class LateNotes:
    def __init__(self, store: EventStore):
        self.store = store

    def keep(self, firing_id: str, note: InternalComment, now: datetime, error: str) -> None:
        document = json.dumps({"body": note.body, "reason": note.reason, "mentions": list(note.mentions)})
        try:
            with self.store._write() as connection:
                connection.execute(self.store._insert(late_notes).values(
                    firing_id=firing_id, issue=note.issue, rule=note.rule, note=document, kept=now, error=error[:500],
                ).on_conflict_do_nothing(index_elements=["firing_id"]))
        except SQLAlchemyError as failure:
            raise StoreUnavailable(f"cannot keep the note of {note.issue} {note.rule}: {failure}") from None

    def waiting(self, limit: int = 100) -> list[tuple[str, InternalComment]]:
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(select(late_notes).order_by(late_notes.c.kept).limit(limit)).all()
        except SQLAlchemyError as failure:
            log.error("cannot list the notes to write: %s", failure)  # they wait for the next sweep
            return []
        found = []
        for row in rows:
            saved = json.loads(row.note)
            found.append((row.firing_id, InternalComment(row.issue, row.rule, saved["reason"], body=saved["body"],
                                                         mentions=tuple(saved["mentions"]))))
        return found

    def written(self, firing_id: str) -> None:
        # Should this fail, the next sweep finds the note in Jira by its firing id and does not repeat it.
        self._quietly(delete(late_notes).where(late_notes.c.firing_id == firing_id))

    def failed_again(self, firing_id: str, error: str) -> None:
        self._quietly(update(late_notes).where(late_notes.c.firing_id == firing_id).values(error=error[:500]))

    def _quietly(self, statement) -> None:
        try:
            with self.store._write() as connection:
                connection.execute(statement)
        except SQLAlchemyError as failure:
            log.warning("late notes not updated: %s", failure)
