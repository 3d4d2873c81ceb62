"""Rule switches set in the console over app.yaml's: a rule off, or shadow only, without a restart.

app.yaml stays the default; an override says only what differs (`enabled`, `shadow`, or both).
Pure: the store keeps the overrides (store/rule_overrides.py), the service applies them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Mapping

from jsm_autopilot.rules.actions import Action, firings_of

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings


@dataclass(frozen=True)
class RuleOverride:
    rule: str
    enabled: bool | None = None  # None: as app.yaml says
    shadow: bool | None = None
    changed_by: str = ""
    changed_at: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.enabled is None and self.shadow is None

    def describe(self) -> str:
        """"off, by Ann Admin at 2026-12-08 09:00 UTC": for /readyz, `check` and the console."""
        parts = []
        if self.enabled is not None:
            parts.append("on" if self.enabled else "off")
        if self.shadow is not None:
            parts.append("shadow only" if self.shadow else "not shadow only")
        when = f" at {self.changed_at:%Y-%m-%d %H:%M} UTC" if self.changed_at is not None else ""
        return f"{self.rule}: {', '.join(parts) or 'as app.yaml'} (console, by {self.changed_by or 'unknown'}{when})"

    @property
    def strict(self) -> bool:
        """Whether forgetting this override would make the rule write to Jira again."""
        return self.enabled is False or self.shadow is True


def override_problems(overrides: Iterable[RuleOverride], implemented: Iterable[str]) -> list[str]:
    """Overrides for rules this version does not implement (kept in the store, not applied)."""
    known = set(implemented)
    return [f"rule override for {o.rule!r} ignored: this version has no such rule" for o in overrides if o.rule not in known]


def with_overrides(settings: "Settings", overrides: Iterable[RuleOverride], implemented: Iterable[str]) -> "Settings":
    """The effective settings: app.yaml's switches with the overrides applied, in catalogue order."""
    order = list(implemented)
    enabled = set(settings.rules.enabled if settings.rules.enabled is not None else order)
    shadow = set(settings.rules.shadow)
    changed = False
    for override in overrides:
        if override.rule not in order:
            continue
        changed = changed or not override.empty
        if override.enabled is not None:
            (enabled.add if override.enabled else enabled.discard)(override.rule)
        if override.shadow is not None:
            (shadow.add if override.shadow else shadow.discard)(override.rule)
    if not changed:
        return settings
    return settings.with_rule_switches([r for r in order if r in enabled], [r for r in order if r in shadow])


def kept_strict(current: Mapping[str, RuleOverride], last_changes: Mapping[str, RuleOverride],
                remembered: Mapping[str, RuleOverride]) -> tuple[dict[str, RuleOverride], list[str]]:
    """The overrides to apply, and the rules whose override the store lost. A store that loses one
    never turns a rule back on by silence: an override that kept a rule off or in shadow stays
    when it is missing from `current` although the store's change log (`last_changes`, each
    rule's latest change; an empty one is a reset) or this process (`remembered`) knows it, and
    no later change in the log explains its absence."""
    kept, lost = dict(current), []

    def still_strict(rule: str) -> bool:
        return rule in current and current[rule].strict

    for rule, expected in last_changes.items():  # rows gone that the log still has
        if expected.strict and not still_strict(rule):
            kept[rule] = expected
            lost.append(rule)
    for rule, seen in remembered.items():  # a store replaced: its log does not know them
        if rule in lost or not seen.strict or still_strict(rule):
            continue
        later = last_changes.get(rule)
        if later is None or later.changed_at is None or (seen.changed_at is not None and later.changed_at < seen.changed_at):
            kept[rule] = seen
            lost.append(rule)
    return kept, sorted(lost)


def split_shadow(actions: list[Action], settings: "Settings") -> tuple[list[Action], list[Action]]:
    """(to write, to keep as shadow firings). Every rule decided on the same snapshot of the
    ticket, so the firings written stay right without the shadow ones."""
    live: list[Action] = []
    shadow: list[Action] = []
    for rule, group in firings_of(actions).items():
        (shadow if settings.is_shadow_only(rule) else live).extend(group)
    return live, shadow
