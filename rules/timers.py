"""The waiting-time rules of guide section 2.9: reminders, automatic closing, and the reset."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from jsm_autopilot.rules.actions import Action, Transition, audit_note
from jsm_autopilot.rules.clock import add_duration, whole_days_between
from jsm_autopilot.rules.feedback import judge_reply, phrase_in
from jsm_autopilot.rules.hours import WINDOW
from jsm_autopilot.rules.model import Comment, Firing, Role, Ticket, require_aware
from jsm_autopilot.rules.wording import customer_zone, local_time, public_comment

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

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


def customer_feedback(ticket: Ticket, settings: "Settings", after: datetime | None = None) -> tuple[Comment, ...]:
    """The customer's comments after `after`, oldest first, but for automatic (out-of-office)
    replies: those are no feedback, and restart no clock."""
    auto_replies = settings.confirmation.auto_replies
    return tuple(c for c in ticket.comments_by(Role.CUSTOMER, after) if phrase_in(c.body, auto_replies) is None)


def last_feedback(ticket: Ticket, settings: "Settings", after: datetime | None = None) -> Comment | None:
    found = customer_feedback(ticket, settings, after)
    return found[-1] if found else None


def _is_waiting(ticket: Ticket, settings: "Settings") -> bool:
    return (
        ticket.complete
        and ticket.status == settings.statuses.clarification
        and ticket.status_since is not None
    )


@dataclass(frozen=True)
class ClarificationClock:
    """Where a waiting ticket stands: when its clock started, what was sent, what comes next.
    `slots` are the reminders' fixed due moments (10, 20, 30 days from the start); `close_at` the
    close's (40 days), later only when the last reminder went out late (an outage)."""

    clock_start: datetime
    reminders: tuple[Firing, ...]
    next_step: Literal["reminder", "close"]
    next_due: datetime
    slots: tuple[datetime, ...] = ()
    scheduled_close: datetime | None = None
    close_at: datetime | None = None

    def slot_of(self, moment: datetime) -> int:
        """How many reminder slots have fallen due by `moment` (0 to the number of reminders)."""
        return sum(1 for slot in self.slots if slot <= moment)


# A reminder sent within this long of the moment it could first go out (its slot, or the start of
# the next open day) was on time: the sweeps run at least nightly. Later, it was held up by an
# outage, and the customer still gets a full interval after it before the close.
ON_TIME = timedelta(days=1)


def first_open(moment: datetime, ticket: Ticket, settings: "Settings") -> datetime:
    """`moment`, or where hours.window defers what the customer sees, the start of the next open day."""
    region = settings.region_of(ticket.organisation) if settings.is_enabled(WINDOW) else None
    if region is None:
        return moment
    return settings.calendar_of(region).next_open(moment, settings.service_hours.business_hours_only)


def clarification_clock(ticket: Ticket, settings: "Settings") -> ClarificationClock | None:
    """The clock starts at the later of entering the waiting status and the last customer comment;
    reminders sent before that no longer count. The schedule is fixed from the start (PROCESS.md,
    service hours): a deferral moves only the action that fell on a closed day, and after an outage
    only the reminder of the latest slot due is sent, never a burst."""
    if not _is_waiting(ticket, settings):
        return None
    assert ticket.status_since is not None
    last_reply = last_feedback(ticket, settings, after=ticket.status_since)
    clock_start = last_reply.created if last_reply else ticket.status_since
    reminders = ticket.fired(REMINDER, after=clock_start)
    timers = settings.timers.clarification
    zone = settings.project.zone
    slots, moment = [], clock_start
    for _ in range(timers.reminders):
        moment = add_duration(moment, timers.reminder_every, zone)
        slots.append(moment)
    scheduled_close = add_duration(slots[-1], timers.close_after_last_reminder, zone)
    clock = ClarificationClock(clock_start, reminders, "reminder", slots[0], tuple(slots), scheduled_close, scheduled_close)
    filled = max((clock.slot_of(f.at) for f in reminders), default=0)
    if filled < len(slots):
        return replace(clock, next_due=slots[filled])
    close_at = close_after_last(reminders[-1].at, clock, ticket, settings)
    return replace(clock, next_step="close", next_due=close_at, close_at=close_at)


def close_after_last(sent: datetime, clock: ClarificationClock, ticket: Ticket, settings: "Settings") -> datetime:
    """When the close falls due if the last reminder goes out at `sent`: on schedule, unless that
    reminder was late, then one full interval after it."""
    assert clock.scheduled_close is not None
    if sent - first_open(clock.slots[-1], ticket, settings) <= ON_TIME:
        return clock.scheduled_close
    return max(clock.scheduled_close, add_duration(sent, settings.timers.clarification.close_after_last_reminder, settings.project.zone))


def due_reminder(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`clarification.reminder`: a public reminder when its slot has come without feedback; after an
    outage, only the reminder of the latest slot due, never the missed ones as well."""
    require_aware(now, "now")
    clock = clarification_clock(ticket, settings)
    if clock is None or clock.next_step != "reminder" or now < clock.next_due:
        return []
    total = settings.timers.clarification.reminders
    number = clock.slot_of(now)
    zone = settings.project.zone
    days_waiting = whole_days_between(clock.clock_start, now, zone)
    skipped = number - len(clock.reminders) - 1
    reason = (
        f"no customer feedback since {local_time(clock.clock_start, settings)} ({days_waiting} days); "
        f"reminder {number} of {total} was due at {local_time(clock.slots[number - 1], settings)}"
        + (f" ({skipped} earlier reminder(s) missed while the service was stopped are not sent)" if skipped > 0 else "")
    )
    # The day the close will really happen: on schedule, after a late last reminder one interval
    # after it, and never on a closed day.
    close = close_after_last(now, clock, ticket, settings) if number == total else clock.close_at
    assert close is not None
    reminder = public_comment(
        ticket, REMINDER, reason, "clarification_reminder", settings,
        reminder_number=number,
        reminders_total=total,
        days_waiting=days_waiting,
        close_date=first_open(close, ticket, settings).astimezone(customer_zone(ticket, settings)).date(),
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
    replies = customer_feedback(ticket, settings, after=ticket.status_since)
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
    if since is None or last_feedback(ticket, settings, after=since) is not None:
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
    if since is None or last_feedback(ticket, settings, after=since) is not None:
        return None
    return add_duration(since, settings.timers.resolved.close_after, settings.project.zone)


def reply_judgement(settings: "Settings") -> dict:
    """The word lists `judge_reply` takes, from `confirmation` in app.yaml."""
    confirmation = settings.confirmation
    return {"phrases": confirmation.phrases, "negations": confirmation.negations, "doubts": confirmation.doubts,
            "question_words": confirmation.question_words, "conditions": confirmation.conditions,
            "problems": confirmation.problems, "fixed_words": confirmation.fixed_words,
            "auto_replies": confirmation.auto_replies, "close_words": confirmation.close_words,
            "permissions": confirmation.permissions,
            "learned": settings.reply_model if confirmation.learned else None,
            "learned_min_probability": confirmation.learned_min_probability, "outcome_words": confirmation.outcome_words}


def customer_feedback_on_resolved(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`resolved.confirm`: a confirming reply closes at once; any other reply goes back to agents."""
    require_aware(now, "now")
    since = resolved_since(ticket, settings)
    reply = last_feedback(ticket, settings, after=since) if since is not None else None
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
