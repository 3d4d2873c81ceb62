"""What `serve --dry-run` would have done (shadow mode): one row per distinct firing, however often a
webhook or a sweep decided it again; `jsm-autopilot shadow` lists them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from jsm_autopilot.errors import StoreUnavailable
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.schema import shadow_firings


@dataclass(frozen=True)
class ShadowFiring:
    issue: str
    rule: str
    source: str
    summary: str
    first_seen: datetime
    last_seen: datetime
    times: int

    def as_json(self) -> dict:
        return {"issue": self.issue, "rule": self.rule, "source": self.source, "summary": self.summary,
                "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(), "times": self.times}


class ShadowFirings:
    def __init__(self, store: EventStore):
        self.store = store

    def record(self, digest: str, issue: str, rule: str, source: str, summary: str, now: datetime) -> bool:
        """Keep a firing `serve --dry-run` would have applied; True the first time it is seen."""
        try:
            with self.store._write() as connection:
                added = connection.execute(self.store._insert(shadow_firings).values(
                    digest=digest, issue=issue, rule=rule, source=source, summary=summary, first_seen=now, last_seen=now, times=1,
                ).on_conflict_do_nothing(index_elements=["digest"]).returning(shadow_firings.c.digest)).first() is not None
                if not added:
                    connection.execute(update(shadow_firings).where(shadow_firings.c.digest == digest)
                                       .values(last_seen=now, times=shadow_firings.c.times + 1))
                return bool(added)
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot record a shadow firing: {error}") from None

    def list(self, limit: int = 1000) -> list[ShadowFiring]:
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(select(shadow_firings).order_by(shadow_firings.c.first_seen, shadow_firings.c.issue).limit(limit))
                return [ShadowFiring(r.issue, r.rule, r.source, r.summary, r.first_seen, r.last_seen, r.times) for r in rows]
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot list shadow firings: {error}") from None
