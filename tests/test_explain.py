"""`rules/explain.py`: why a rule holds back, as `jsm-autopilot why` prints it (issue 17)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jsm_autopilot.rules import explain, timers
from jsm_autopilot.rules.model import Role
from tests.tickets import after_actions, comment, resolved_ticket, waiting_ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_the_reminder_count_and_where_the_clock_starts(settings):
    ticket = waiting_ticket(T0)
    assert explain.detail(timers.REMINDER, ticket, T0, settings) == (
        "reminder 1 of 3, the clock counted from entering 'Clarification required / On hold'")
    due = timers.clarification_due_at(ticket, settings)
    ticket = after_actions(ticket, timers.due_reminder(ticket, due, settings), due)
    assert explain.detail(timers.REMINDER, ticket, due, settings).startswith("reminder 2 of 3")
    replied = waiting_ticket(T0, comment(Role.CUSTOMER, T0 + timedelta(days=1), "still broken"))
    assert explain.detail(timers.REMINDER, replied, T0 + timedelta(days=2), settings) == (
        "reminder 1 of 3, the clock counted from the customer's last reply")


def test_after_the_last_reminder_the_close_is_next(settings):
    ticket, now = waiting_ticket(T0), T0
    for _ in range(3):
        now = timers.clarification_due_at(ticket, settings)
        ticket = after_actions(ticket, timers.due_reminder(ticket, now, settings), now)
    assert explain.detail(timers.CLARIFICATION_CLOSE, ticket, now, settings) == (
        "the last reminder sent; closes 10d after its day, on the schedule fixed when the clock started")
    late = after_actions(waiting_ticket(T0), timers.due_reminder(waiting_ticket(T0), T0 + timedelta(days=35), settings),
                         T0 + timedelta(days=35))
    assert explain.detail(timers.CLARIFICATION_CLOSE, late, T0 + timedelta(days=35), settings) == (
        "the last reminder sent; closes 10d after it, as it went out late")


def test_resolved_says_what_the_customer_wrote_or_that_nothing_came(settings):
    silent = resolved_ticket(T0)
    assert explain.detail(timers.RESOLVED_CLOSE, silent, T0, settings).startswith("no customer comment since Resolved; closes ")
    asked = resolved_ticket(T0, comment(Role.CUSTOMER, T0 + timedelta(hours=2), "Thanks, but why does it still crash?"))
    said = explain.detail(timers.RESOLVED_CONFIRM, asked, T0 + timedelta(hours=3), settings)
    assert said.startswith("the last customer comment does not confirm (") and said.endswith("handed back to 'In Review by Service Desk'")
    thanked = resolved_ticket(T0, comment(Role.CUSTOMER, T0 + timedelta(hours=2), "Works now, thank you!"))
    assert explain.detail(timers.RESOLVED_CONFIRM, thanked, T0 + timedelta(hours=3), settings).startswith("the customer confirmed")


def test_a_rule_for_other_statuses_says_which_and_where_the_ticket_is(settings):
    assert explain.not_in_status(("Resolved",), waiting_ticket(T0)) == (
        "acts only in 'Resolved'; SD-1 is in 'Clarification required / On hold'")
    assert explain.not_in_status(("Resolved", "Clarification required / On hold"), waiting_ticket(T0)) is None
    assert explain.detail("delivery.create", waiting_ticket(T0), T0, settings) is None
