"""`escalation.complaint` (guide 4.1): a customer comment that complains or asks to escalate goes to
agents and the responsible team lead (the first level of `escalation.levels`), in an internal note
that mentions them. It never counts as a confirmation (`confirmation.doubts` holds the same words).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from jsm_autopilot.rules.actions import AUDIT_PREFIX, Action, InternalComment
from jsm_autopilot.rules.feedback import phrase_in
from jsm_autopilot.rules.model import Role, Ticket, require_aware
from jsm_autopilot.rules.wording import local_time

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

COMPLAINT = "escalation.complaint"


def complaint(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """One note per complaining comment, mentioning the team lead of the ticket's region."""
    require_aware(now, "now")
    if not ticket.complete or ticket.status == settings.statuses.closed:
        return []
    told = ticket.fired(COMPLAINT)
    since = told[-1].at if told else None
    for reply in reversed(ticket.comments_by(Role.CUSTOMER, after=since)):
        phrase = phrase_in(reply.body, settings.escalation.complaint_phrases)
        if phrase is None:
            continue
        region = settings.region_of(ticket.organisation)
        leads = settings.escalation.accounts_at(0, region)
        who = "the team lead is mentioned" if leads else "no team lead is set for this region (escalation.levels)"
        reason = f'the customer complains or asks to escalate ("{phrase}") on {local_time(reply.created, settings)}; {who}'
        return [InternalComment(ticket.key, COMPLAINT, reason, body=f"{AUDIT_PREFIX} · {COMPLAINT}: {reason}", mentions=leads)]
    return []
