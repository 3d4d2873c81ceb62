"""For one ticket, whether each rule fires now, and if not, why not and when: `why KEY` and the
console's ticket box. Pure, like the rules it asks."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from jsm_autopilot.rules import explain, hours
from jsm_autopilot.rules.actions import Deferred
from jsm_autopilot.rules.catalogue import RULES
from jsm_autopilot.rules.model import Ticket
from jsm_autopilot.rules.wording import local_time

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings


def verdicts(ticket: Ticket, now: datetime, settings: "Settings") -> list[dict]:
    """One entry per rule of the catalogue: `state` is fires | waits | due | idle | off."""
    found = []
    for rule in RULES:
        entry = {"rule": rule.id, "state": "off", "why": "switched off (rules.enabled in app.yaml, or the console)"}
        if not rule.implemented:
            entry = {"rule": rule.id, "state": "off", "why": "planned in PROCESS.md, not implemented yet"}
        elif settings.is_enabled(rule.id) and rule.function is None:
            why = ("shapes the others: what the customer sees waits for the region's working hours" if rule.shapes_others
                   else "decided with the Delivery ticket it concerns (see `sweep`)")
            entry = {"rule": rule.id, "state": "idle", "why": why}
        elif settings.is_enabled(rule.id) and rule.function is not None:
            actions = hours.within_hours(rule.function(ticket, now, settings), ticket.organisation, now, settings)
            waiting = [a for a in actions if isinstance(a, Deferred)]
            if waiting:
                entry = {"rule": rule.id, "state": "waits", "why": waiting[0].reason,
                         "not_before": waiting[0].not_before.isoformat()}
            elif actions:
                shadow = "shadow only, kept and not written: " if settings.is_shadow_only(rule.id) else ""
                entry = {"rule": rule.id, "state": "fires", "why": shadow + actions[0].reason}
            else:
                due = rule.due_at(ticket, now, settings) if rule.due_at is not None else None
                more = explain.detail(rule.id, ticket, now, settings)
                elsewhere = explain.not_in_status(rule.candidate_statuses(settings), ticket) if rule.candidate_statuses else None
                if due is not None and due > now:
                    entry = {"rule": rule.id, "state": "due", "why": f"not yet, due {local_time(due, settings)}"
                             + (f" ({more})" if more else ""), "due": due.isoformat()}
                elif elsewhere or more:
                    entry = {"rule": rule.id, "state": "idle", "why": str(elsewhere or more)}
                else:
                    what = rule.describe(settings) if rule.describe is not None else rule.summary
                    entry = {"rule": rule.id, "state": "idle", "why": f"nothing to do now; it acts on: {what}"}
        found.append(entry)
    return found
