"""`triage.suggest` (guide 2.5): for a new Incident or Request, suggest the likely target type."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from jsm_autopilot.rules.actions import AUDIT_PREFIX, Action, TypeSuggestion
from jsm_autopilot.rules.model import Ticket, require_aware
from jsm_autopilot.rules.reclassify import recent

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

SUGGEST = "triage.suggest"


def suggest_type(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """One internal comment naming the type and the words that led to it; nothing when unclear."""
    require_aware(now, "now")
    types = settings.issue_types
    new = ticket.status in (settings.statuses.opened, settings.statuses.in_review)
    if not ticket.complete or not new or ticket.type not in (types.incident, types.request) or ticket.fired(SUGGEST):
        return []
    if not recent(ticket.created, now, settings):
        return []  # tickets from before the automation watched are not triaged after the fact
    text = f"{ticket.summary}\n{ticket.description}"
    learned = settings.learned_triage
    match = learned.suggest(text) if learned is not None else None
    if learned is not None and match is not None:
        words = ", ".join(f'"{w}"' for w in match.matched)
        how = f"like the {learned.examples} tickets agents typed before it suggest (weighed most: {words or 'its wording as a whole'})"
    else:
        # The keyword vocabulary of app.yaml: the fallback, and all there is before `triage learn`.
        match = settings.vocabulary.suggest(text)
        if match is None:
            return []
        how = "matched " + ", ".join(f'"{w}"' for w in match.matched)
    type_name = getattr(types, match.type_key)
    reason = f"the ticket reads like a {type_name} ({how}); agents decide"
    return [TypeSuggestion(ticket.key, SUGGEST, reason, body=f"{AUDIT_PREFIX} · {SUGGEST}: {reason}",
                           suggestion=type_name, matched=match.matched)]
