"""Invariants of the timer rules over random histories and random sweep times (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jsm_autopilot.rules.actions import PublicComment, Transition
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.clock import add_duration
from jsm_autopilot.rules.model import Role, Ticket
from tests.conftest import BERLIN
from tests.tickets import after_actions, comment, resolved_ticket, waiting_ticket

# Starts spread over two years, so that daylight-saving changes fall inside many waits.
starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=BERLIN, second=0, microsecond=0)
)
offsets = st.floats(min_value=0.0, max_value=100.0, allow_nan=False).map(lambda d: timedelta(days=d))
REPLIES = [
    "Here is the log file you asked for.",
    "Still looking into it.",
    "Thanks, the ticket can be closed.",
    "Danke, kann geschlossen werden.",
    "Das Problem besteht weiterhin.",
]

slow = hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def simulate(ticket: Ticket, replies: list[tuple[timedelta, str]], sweeps: list[timedelta], settings) -> tuple[Ticket, list[tuple[datetime, list]]]:
    """Customers reply and the service sweeps, in time order; each sweep's actions are applied.
    Also checks at every sweep that evaluating again right after applying yields nothing."""
    start = ticket.status_since
    events = sorted(
        [(start + at, 0, text) for at, text in replies] + [(start + at, 1, None) for at in sweeps],
        key=lambda e: (e[0], e[1]),
    )
    log = []
    for moment, is_sweep, text in events:
        if not is_sweep:
            ticket = replace(ticket, comments=ticket.comments + (comment(Role.CUSTOMER, moment, text),))
            continue
        actions = evaluate(ticket, moment, settings)
        ticket = after_actions(ticket, actions, moment)
        assert evaluate(ticket, moment, settings) == [], "evaluating again after applying must yield nothing new"
        log.append((moment, actions))
    return ticket, log


def customer_times(ticket: Ticket) -> list[datetime]:
    return [c.created for c in ticket.comments if c.role is Role.CUSTOMER]


@slow
@given(
    start=starts,
    replies=st.lists(st.tuples(offsets, st.sampled_from(REPLIES)), max_size=4),
    sweeps=st.lists(offsets, min_size=1, max_size=60),
)
def test_clarification_invariants(settings, start, replies, sweeps):
    """The schedule is fixed from the clock's start (reminders on days 10, 20, 30, the close on day
    40); a sweep that comes late never sends a burst, and the customer always gets a full interval
    after a reminder that was sent late."""
    timers = settings.timers.clarification
    zone = settings.project.zone
    ticket, log = simulate(waiting_ticket(start), replies, sweeps, settings)

    def clock_start(moment: datetime) -> datetime:
        return max([t for t in customer_times(ticket) if start < t < moment], default=start)

    def slots(begin: datetime) -> list[datetime]:
        moments, moment = [], begin
        for _ in range(timers.reminders):
            moment = add_duration(moment, timers.reminder_every, zone)
            moments.append(moment)
        return moments

    def slot_of(moment: datetime) -> int:
        return sum(1 for slot in slots(clock_start(moment)) if slot <= moment)

    reminders = [c.created for c in ticket.comments if c.role is Role.AUTOMATION and c.public and c.rule == "clarification.reminder"]
    for earlier, later in zip(reminders, reminders[1:]):
        # Never two reminders in one slot of the same clock.
        assert clock_start(later) != clock_start(earlier) or slot_of(later) > slot_of(earlier)
    for sent in reminders:
        assert slot_of(sent) >= 1, "no reminder before its day"

    for moment, actions in log:
        # Never two reminders at once.
        assert sum(isinstance(a, PublicComment) and a.rule == "clarification.reminder" for a in actions) <= 1
        replied = [t for t in customer_times(ticket) if t <= moment]
        if replied and moment < add_duration(replied[-1], timers.reminder_every, zone):
            # The customer wrote within the interval: nothing but the agents' note that the clock reset.
            assert {a.rule for a in actions} <= {"clarification.reset"}
            assert not any(isinstance(a, PublicComment) for a in actions)
        if not any(isinstance(a, Transition) and a.rule == "clarification.close" for a in actions):
            continue
        # Never a close before the last reminder's day has had its reminder, nor before day 40, nor
        # less than an interval after a last reminder that went out late.
        begin = clock_start(moment)
        last_slot = slots(begin)[-1]
        since = [r for r in reminders if begin < r < moment]
        assert since and since[-1] >= last_slot
        assert moment >= add_duration(last_slot, timers.close_after_last_reminder, zone)
        if since[-1] - last_slot > timedelta(days=1):
            assert moment >= add_duration(since[-1], timers.close_after_last_reminder, zone)


@slow
@given(
    start=starts,
    replies=st.lists(st.tuples(offsets, st.sampled_from(REPLIES)), max_size=3),
    sweeps=st.lists(offsets, min_size=1, max_size=40),
)
def test_resolved_invariants(settings, start, replies, sweeps):
    zone = settings.project.zone
    ticket, log = simulate(resolved_ticket(start), replies, sweeps, settings)
    for moment, actions in log:
        for action in actions:
            if action.rule == "resolved.close" and isinstance(action, Transition):
                # Closed for silence only after the full period and with no customer reply at all.
                assert moment >= add_duration(start, settings.timers.resolved.close_after, zone)
                assert not [t for t in customer_times(ticket) if start < t <= moment]
    transitions = [a for _, actions in log for a in actions if isinstance(a, Transition)]
    # A resolved ticket leaves Resolved at most once in this model, whatever the order of events.
    assert len(transitions) <= 1
