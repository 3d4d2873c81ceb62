"""Shadow mode (`serve --dry-run`): decide as usual, write nothing to Jira, log and keep what would
have been done, so an admin can read it before the first real start (`jsm-autopilot shadow`)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from jsm_autopilot.rules.actions import Action, firings_of
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.shadow_firings import ShadowFirings

log = logging.getLogger("jsm_autopilot.shadow")


def _kinds(actions: list[Action]) -> list[dict]:
    """What a firing does, without its wording (a reminder's day count changes by the hour)."""
    described = []
    for action in actions:
        shown = action.as_json()
        described.append({k: v for k, v in shown.items() if k in ("kind", "to_status", "transition", "field", "template", "other")})
    return described


@dataclass
class ShadowLog:
    store: EventStore
    clock: Callable[[], datetime]

    def record(self, actions: list[Action], source: str) -> int:
        """Keep each firing of `actions`; returns how many were new."""
        new = 0
        for rule, group in firings_of(actions).items():
            issue = group[0].issue
            what = _kinds(group)
            digest = hashlib.sha256(json.dumps([issue, rule, what], sort_keys=True).encode()).hexdigest()
            summary = ", ".join(k["kind"] + (f" to {k['to_status']}" if k.get("to_status") else "") for k in what)
            summary = f"{summary}: {group[0].reason}"
            first = ShadowFirings(self.store).record(digest, issue, rule, source, summary, self.clock())
            new += first
            log.info("dry run: %s %s would %s", issue, rule, summary,
                     extra={"issue": issue, "rule": rule, "dry_run": True, "source": source, "first_time": first})
        return new
