"""The console's rule switches, shared by every replica: the overrides in force and every change
with who made it and when. The change log also tells an override reset on purpose from one the
store lost (a new or restored database): a lost one must not turn a rule back on silently."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from jsm_autopilot.errors import StoreUnavailable
from jsm_autopilot.rules.overrides import RuleOverride
from jsm_autopilot.store.event_store import EventStore, one_line
from jsm_autopilot.store.schema import rule_override_changes, rule_overrides


@dataclass(frozen=True)
class OverrideChange:
    rule: str
    enabled: bool | None
    shadow: bool | None
    changed_by: str
    changed_at: datetime

    @property
    def is_reset(self) -> bool:
        return self.enabled is None and self.shadow is None

    def as_json(self) -> dict:
        return {"rule": self.rule, "enabled": self.enabled, "shadow": self.shadow, "changed_by": self.changed_by,
                "changed_at": self.changed_at.isoformat()}


class RuleOverrides:
    def __init__(self, store: EventStore):
        self.store = store

    def current(self) -> dict[str, RuleOverride]:
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(select(rule_overrides).order_by(rule_overrides.c.rule)).all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the rule overrides: {one_line(error)}") from None
        return {r.rule: RuleOverride(r.rule, r.enabled, r.shadow, r.changed_by, r.changed_at) for r in rows}

    def set(self, rule: str, enabled: bool | None, shadow: bool | None, by: str, now: datetime) -> None:
        """The override of `rule` becomes exactly this (both None: reset to app.yaml), recorded as one change."""
        try:
            with self.store._write() as connection:
                connection.execute(delete(rule_overrides).where(rule_overrides.c.rule == rule))
                if enabled is not None or shadow is not None:
                    connection.execute(insert(rule_overrides).values(rule=rule, enabled=enabled, shadow=shadow, changed_by=by,
                                                                     changed_at=now))
                connection.execute(insert(rule_override_changes).values(rule=rule, enabled=enabled, shadow=shadow, changed_by=by,
                                                                        changed_at=now))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot change the override of {rule}: {one_line(error)}") from None

    def history(self, limit: int = 200) -> list[OverrideChange]:
        """The latest changes first."""
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(select(rule_override_changes).order_by(rule_override_changes.c.id.desc()).limit(limit)).all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the rule override changes: {one_line(error)}") from None
        return [OverrideChange(r.rule, r.enabled, r.shadow, r.changed_by, r.changed_at) for r in rows]

    def last_changes(self) -> dict[str, RuleOverride]:
        """Each rule's latest change as an override (an empty one after a reset): what
        `current` should hold."""
        latest = select(func.max(rule_override_changes.c.id)).group_by(rule_override_changes.c.rule)
        try:
            with self.store.engine.connect() as connection:
                rows = connection.execute(select(rule_override_changes).where(rule_override_changes.c.id.in_(latest))).all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the rule override changes: {one_line(error)}") from None
        return {r.rule: RuleOverride(r.rule, r.enabled, r.shadow, r.changed_by, r.changed_at) for r in rows}
