"""Why a rule does not fire now, in the terms an agent asks in (`jsm-autopilot why`).

Pure, like the rules: the same ticket snapshot, time and settings. Each answer names the one
condition that holds the rule back, or adds where a timer stands ("reminder 2 of 3")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable

from jsm_autopilot.rules import timers
from jsm_autopilot.rules.model import Ticket

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

Explanation = Callable[[Ticket, datetime, "Settings"], "str | None"]


def not_in_status(candidate_statuses: tuple[str, ...], ticket: Ticket) -> str | None:
    if ticket.status in candidate_statuses:
        return None
    wanted = ", ".join(repr(status) for status in candidate_statuses)
    return f"acts only in {wanted}; {ticket.key} is in {ticket.status!r}"


def _clarification(ticket: Ticket, now: datetime, settings: "Settings") -> str | None:
    clock = timers.clarification_clock(ticket, settings)
    if clock is None:
        return None
    total = settings.timers.clarification.reminders
    if clock.next_step == "reminder":
        counted = "the customer's last reply" if clock.clock_start != ticket.status_since else f"entering {ticket.status!r}"
        return f"reminder {clock.slot_of(clock.next_due)} of {total}, the clock counted from {counted}"
    late = clock.close_at != clock.scheduled_close
    return (f"the last reminder sent; closes {settings.timers.clarification.close_after_last_reminder} after "
            + ("it, as it went out late" if late else "its day, on the schedule fixed when the clock started"))


def _resolved(ticket: Ticket, now: datetime, settings: "Settings") -> str | None:
    since = timers.resolved_since(ticket, settings)
    if since is None:
        return None
    reply = timers.last_feedback(ticket, settings, after=since)
    if reply is None:
        return f"no customer comment since Resolved; closes {settings.timers.resolved.close_after} after it without one"
    from jsm_autopilot.rules.feedback import judge_reply

    decision = judge_reply(reply.body, **timers.reply_judgement(settings))
    if decision.close:
        return f"the customer confirmed ({decision.phrase!r}): the ticket closes"
    return f"the last customer comment does not confirm ({decision.why}): handed back to {settings.statuses.hand_back_to!r}"


# What each rule adds, by rule id; a rule without an entry is explained by its statuses and summary.
DETAILS: dict[str, Explanation] = {
    timers.REMINDER: _clarification,
    timers.CLARIFICATION_CLOSE: _clarification,
    timers.RESOLVED_CLOSE: _resolved,
    timers.RESOLVED_CONFIRM: _resolved,
}


def detail(rule_id: str, ticket: Ticket, now: datetime, settings: "Settings") -> str | None:
    explain = DETAILS.get(rule_id)
    return explain(ticket, now, settings) if explain is not None else None
