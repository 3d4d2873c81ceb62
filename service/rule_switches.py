"""The effective settings: app.yaml plus the console's rule overrides in the store, for every
command that has a store and for `serve`, which reads them again before each sweep."""

from __future__ import annotations

from dataclasses import dataclass, field

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.rules.catalogue import implemented_ids
from jsm_autopilot.rules.overrides import RuleOverride, kept_strict, override_problems, with_overrides
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.rule_overrides import RuleOverrides


@dataclass
class RuleSwitches:
    store: EventStore
    # Every strict override this process has seen: a store that no longer has one (replaced,
    # restored from an old backup) without a reset in its change log keeps the rule as it was.
    remembered: dict[str, RuleOverride] = field(default_factory=dict)
    active: dict[str, RuleOverride] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def apply(self, base: Settings) -> Settings:
        """`base` with the overrides in force; StoreUnavailable when the store cannot say."""
        overrides = RuleOverrides(self.store)
        current = overrides.current()
        kept, lost = kept_strict(current, overrides.last_changes(), self.remembered)
        self.active, self.lost = kept, lost
        self.remembered = {rule: o for rule, o in kept.items() if o.strict}
        self.problems = override_problems(kept.values(), implemented_ids()) + [
            f"the store has lost the rule override of {rule} ({kept[rule].describe()}); it stays in force until it is "
            "set again or reset in the console" for rule in lost]
        return with_overrides(base, kept.values(), implemented_ids())

    def described(self) -> list[str]:
        return [override.describe() for override in self.active.values()]
