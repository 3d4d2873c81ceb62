"""The waiting-time rules of guide section 2.9: reminders, automatic closing, and the reset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from rules.actions import Action, Transition, audit_note
from rules.clock import add_duration, whole_days_between
from rules.feedback import judge_reply
from rules.model import Firing, Role, Ticket, require_aware
from rules.wording import local_time, public_comment

if TYPE_CHECKING:
    from config.settings import Settings

REMINDER = "clarification.reminder"
CLARIFICATION_CLOSE = "clarification.close"
RESET = "clarification.reset"
RESOLVED_CLOSE = "resolved.close"
RESOLVED_CONFIRM = "resolved.confirm"


def _close_with_comment(ticket: Ticket, rule: str, reason: str, template: str, settings: "Settings", **variables: object) -> list[Action]:
    """Tell the customer why, close, and leave agents the note naming the rule."""
    return [
        public_comment(ticket, rule, reason, template, settings, **variables),
        Transition(ticket.key, rule, reason, to_status=settings.statuses.closed, transition=settings.transitions.close),
        audit_note(ticket.key, rule, reason),
    ]


def _is_waiting(ticket: Ticket, settings: "Settings") -> bool:
    return (
        ticket.complete
        and ticket.status == settings.statuses.clarification
        and ticket.status_since is not None
    )


@dataclass(frozen=True)
class ClarificationClock:
    """Where a waiting ticket stands: when its clock started, what was sent, what comes next."""

    clock_start: datetime
    reminders: tuple[Firing, ...]
    next_step: Literal["reminder", "close"]
    next_due: datetime


def clarification_clock(ticket: Ticket, settings: "Settings") -> ClarificationClock | None:
    """The clock starts at the later of entering the waiting status and the last customer comment;
    reminders sent before that no longer count."""
    if not _is_waiting(ticket, settings):
        return None
    assert ticket.status_since is not None
    last_reply = ticket.last_customer_comment(after=ticket.status_since)
    clock_start = last_reply.created if last_reply else ticket.status_since
    reminders = ticket.fired(REMINDER, after=clock_start)
    timers = settings.timers.clarification
    zone = settings.project.zone
    if len(reminders) < timers.reminders:
        # Measured from the previous reminder, not from the clock start: after an outage the
        # customer still gets every reminder, one interval apart, never two at once.
        base = reminders[-1].at if reminders else clock_start
        return ClarificationClock(clock_start, reminders, "reminder", add_duration(base, timers.reminder_every, zone))
    due = add_duration(reminders[-1].at, timers.close_after_last_reminder, zone)
    return ClarificationClock(clock_start, reminders, "close", due)


def _projected_close_date(now: datetime, reminders_left: int, settings: "Settings"):
    timers = settings.timers.clarification
    zone = settings.project.zone
    moment = now
    for _ in range(reminders_left):
        moment = add_duration(moment, timers.reminder_every, zone)
    return add_duration(moment, timers.close_after_last_reminder, zone).date()


def due_reminder(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`clarification.reminder`: a public reminder when the interval has passed without feedback."""
    require_aware(now, "now")
    clock = clarification_clock(ticket, settings)
    if clock is None or clock.next_step != "reminder" or now < clock.next_due:
        return []
    total = settings.timers.clarification.reminders
    number = len(clock.reminders) + 1
    zone = settings.project.zone
    days_waiting = whole_days_between(clock.clock_start, now, zone)
    reason = (
        f"no customer feedback since {local_time(clock.clock_start, settings)} ({days_waiting} days); "
        f"reminder {number} of {total} was due at {local_time(clock.next_due, settings)}"
    )
    reminder = public_comment(
        ticket, REMINDER, reason, "clarification_reminder", settings,
        reminder_number=number,
        reminders_total=total,
        days_waiting=days_waiting,
        close_date=_projected_close_date(now, total - number, settings),
    )
    return [reminder, audit_note(ticket.key, REMINDER, reason)]


def due_clarification_close(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`clarification.close`: close a waiting ticket an interval after its last reminder."""
    require_aware(now, "now")
    clock = clarification_clock(ticket, settings)
    if clock is None or clock.next_step != "close" or now < clock.next_due:
        return []
    zone = settings.project.zone
    days_waiting = whole_days_between(clock.clock_start, now, zone)
    reason = (
        f"no customer feedback since {local_time(clock.clock_start, settings)} ({days_waiting} days) "
        f"despite {len(clock.reminders)} reminders, the last on {local_time(clock.reminders[-1].at, settings)}; "
        f"closing was due at {local_time(clock.next_due, settings)}"
    )
    return _close_with_comment(
        ticket, CLARIFICATION_CLOSE, reason, "clarification_close", settings,
        days_waiting=days_waiting, reminders_total=len(clock.reminders),
    )


def clock_reset_by_customer(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`clarification.reset`: tell agents, once, that a customer reply restarted the reminder count."""
    require_aware(now, "now")
    if not _is_waiting(ticket, settings):
        return []
    assert ticket.status_since is not None
    replies = ticket.comments_by(Role.CUSTOMER, after=ticket.status_since)
    # The latest reply that found reminders since the one before it: a sweep that missed its
    # webhook may only see it after the customer wrote again, with no reminder in between.
    reply, reset_reminders, previous_start = None, [], ticket.status_since
    for candidate in replies:
        found = [f for f in ticket.fired(REMINDER, after=previous_start) if f.at <= candidate.created]
        if found:
            reply, reset_reminders = candidate, found
        previous_start = candidate.created
    if reply is None or any(f.at >= reply.created for f in ticket.fired(RESET)):
        return []
    clock = clarification_clock(ticket, settings)
    assert clock is not None
    later = replies[-1] if replies[-1] is not reply else None
    reason = (
        f"the customer replied on {local_time(reply.created, settings)} after {len(reset_reminders)} "
        f"reminder(s)" + (f" and again on {local_time(later.created, settings)}" if later else "")
        + f"; the reminder count starts again at zero and the next reminder is due at {local_time(clock.next_due, settings)}"
    )
    return [audit_note(ticket.key, RESET, reason)]


def resolved_since(ticket: Ticket, settings: "Settings") -> datetime | None:
    if not ticket.complete or ticket.status != settings.statuses.resolved:
        return None
    return ticket.status_since


def due_resolved_close(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`resolved.close`: close a Resolved ticket after the waiting period without customer feedback."""
    require_aware(now, "now")
    since = resolved_since(ticket, settings)
    if since is None or ticket.last_customer_comment(after=since) is not None:
        return []
    close_after = settings.timers.resolved.close_after
    due = add_duration(since, close_after, settings.project.zone)
    if now < due:
        return []
    days = whole_days_between(since, now, settings.project.zone)
    reason = (
        f"resolved on {local_time(since, settings)} with no customer feedback since; "
        f"closing after {close_after} was due at {local_time(due, settings)}"
    )
    return _close_with_comment(ticket, RESOLVED_CLOSE, reason, "resolved_close", settings, days_resolved=days)


def clarification_due_at(ticket: Ticket, settings: "Settings") -> datetime | None:
    """When the next reminder or the close falls due, if nothing changes in Jira."""
    clock = clarification_clock(ticket, settings)
    return clock.next_due if clock is not None else None


def resolved_close_due_at(ticket: Ticket, settings: "Settings") -> datetime | None:
    since = resolved_since(ticket, settings)
    if since is None or ticket.last_customer_comment(after=since) is not None:
        return None
    return add_duration(since, settings.timers.resolved.close_after, settings.project.zone)


def reply_judgement(settings: "Settings") -> dict:
    """The word lists `judge_reply` takes, from `confirmation` in app.yaml."""
    confirmation = settings.confirmation
    return {"phrases": confirmation.phrases, "negations": confirmation.negations, "doubts": confirmation.doubts,
            "question_words": confirmation.question_words}


def customer_feedback_on_resolved(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`resolved.confirm`: a confirming reply closes at once; any other reply goes back to agents."""
    require_aware(now, "now")
    since = resolved_since(ticket, settings)
    reply = ticket.last_customer_comment(after=since) if since is not None else None
    if reply is None:
        return []
    decision = judge_reply(reply.body, **reply_judgement(settings))
    if decision.close:
        reason = f"the customer confirmed the solution on {local_time(reply.created, settings)} (\"{decision.phrase}\")"
        return _close_with_comment(ticket, RESOLVED_CONFIRM, reason, "resolved_confirmed", settings)
    reason = (
        f"the customer replied on {local_time(reply.created, settings)} without confirming the solution "
        f"({decision.why}); the automatic closing stops and the ticket goes back to {settings.statuses.hand_back_to}"
    )
    return [
        Transition(ticket.key, RESOLVED_CONFIRM, reason, to_status=settings.statuses.hand_back_to, transition=settings.transitions.hand_back),
        audit_note(ticket.key, RESOLVED_CONFIRM, reason),
    ]
