"""The timer rules of guide 2.9 at every documented boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from jsm_autopilot.rules.actions import REFUSED, InternalComment, PublicComment, Transition
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import Comment, Firing, Role, Ticket
from jsm_autopilot.rules.timers import clarification_clock
from tests.conftest import ONE_SECOND, berlin
from tests.tickets import PARTICIPANT, after_actions, comment, resolved_ticket, waiting_ticket

DAY = timedelta(days=1)
# January/February: no daylight-saving change inside the 50 days.
T0 = berlin(2026, 1, 5, 10, 0)


def rules_fired(actions) -> set[str]:
    return {a.rule for a in actions}


def run_until(ticket: Ticket, moments: list[datetime], settings) -> tuple[Ticket, list]:
    """Evaluate at each moment, applying the actions as Jira would; return the final ticket and all actions."""
    history = []
    for moment in moments:
        actions = evaluate(ticket, moment, settings)
        history.extend(actions)
        ticket = after_actions(ticket, actions, moment)
    return ticket, history


class TestClarificationBoundaries:
    def test_no_reminder_one_second_before_ten_days(self, settings):
        assert evaluate(waiting_ticket(T0), T0 + 10 * DAY - ONE_SECOND, settings) == []

    def test_first_reminder_is_due_at_ten_days(self, settings):
        actions = evaluate(waiting_ticket(T0), T0 + 10 * DAY, settings)
        assert [type(a) for a in actions] == [PublicComment, InternalComment]
        assert rules_fired(actions) == {"clarification.reminder"}
        assert "reminder 1 of 3" in actions[0].reason

    @pytest.mark.parametrize("day, expected", [(20, "reminder 2 of 3"), (30, "reminder 3 of 3")])
    def test_next_reminder_is_due_ten_days_after_the_previous(self, settings, day, expected):
        reminder_days = range(10, day, 10)
        ticket, _ = run_until(waiting_ticket(T0), [T0 + d * DAY for d in reminder_days], settings)
        assert evaluate(ticket, T0 + day * DAY - ONE_SECOND, settings) == []
        actions = evaluate(ticket, T0 + day * DAY, settings)
        assert rules_fired(actions) == {"clarification.reminder"}
        assert expected in actions[0].reason

    def test_close_is_due_ten_days_after_the_third_reminder(self, settings):
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY, T0 + 20 * DAY, T0 + 30 * DAY], settings)
        assert evaluate(ticket, T0 + 40 * DAY - ONE_SECOND, settings) == []
        actions = evaluate(ticket, T0 + 40 * DAY, settings)
        assert rules_fired(actions) == {"clarification.close"}
        transition = next(a for a in actions if isinstance(a, Transition))
        assert transition.to_status == "Closed"
        public = next(a for a in actions if isinstance(a, PublicComment))
        assert public.template == "clarification_close"

    def test_closed_ticket_gets_nothing_more(self, settings):
        ticket, _ = run_until(waiting_ticket(T0), [T0 + d * DAY for d in (10, 20, 30, 40)], settings)
        assert ticket.status == "Closed"
        assert evaluate(ticket, T0 + 90 * DAY, settings) == []

    def test_a_late_sweep_does_not_move_the_schedule(self, settings):
        # The first reminder went out on day 13 (say, a slow sweep): the second is still due on day 20.
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 13 * DAY], settings)
        assert evaluate(ticket, T0 + 20 * DAY - ONE_SECOND, settings) == []
        assert "reminder 2 of 3" in evaluate(ticket, T0 + 20 * DAY, settings)[0].reason

    def test_the_reminders_promise_the_day_of_the_real_close(self, settings):
        ticket, history = run_until(waiting_ticket(T0), [T0 + d * DAY for d in (10, 20, 30, 40)], settings)
        promised = [a for a in history if isinstance(a, PublicComment) and a.rule == "clarification.reminder"]
        assert ticket.status == "Closed" and ticket.status_since == T0 + 40 * DAY  # 14 February 2026
        assert len(promised) == 3 and all("closed automatically on 14 February 2026." in a.body for a in promised)


class TestOutage:
    def test_after_an_outage_the_customer_gets_only_the_reminder_due_now(self, settings):
        actions = evaluate(waiting_ticket(T0), T0 + 45 * DAY, settings)
        reminders = [a for a in actions if isinstance(a, PublicComment)]
        assert len(reminders) == 1 and "reminder 3 of 3" in reminders[0].reason
        assert "2 earlier reminder(s) missed" in reminders[0].reason
        assert "clarification.close" not in rules_fired(actions)

    def test_after_an_outage_the_close_comes_one_interval_after_the_last_reminder(self, settings):
        start = T0 + 45 * DAY
        moments = [start + timedelta(hours=h) for h in range(0, 24 * 20 + 1, 6)]
        ticket, history = run_until(waiting_ticket(T0), moments, settings)
        sent = [c.created for c in ticket.comments if c.rule == "clarification.reminder" and c.public]
        assert sent == [start]
        assert ticket.status == "Closed" and ticket.status_since == start + 10 * DAY

    def test_after_a_shorter_outage_the_later_reminders_keep_their_days(self, settings):
        start = T0 + 25 * DAY
        moments = [start + timedelta(hours=h) for h in range(0, 24 * 20 + 1, 6)]
        ticket, _ = run_until(waiting_ticket(T0), moments, settings)
        sent = [c.created for c in ticket.comments if c.rule == "clarification.reminder" and c.public]
        assert sent == [start, T0 + 30 * DAY]
        assert ticket.status == "Closed" and ticket.status_since == T0 + 40 * DAY


class TestReset:
    @pytest.mark.parametrize("reminders_before_reply", [1, 2, 3])
    def test_a_customer_reply_after_a_reminder_restarts_the_count(self, settings, reminders_before_reply):
        moments = [T0 + 10 * DAY * n for n in range(1, reminders_before_reply + 1)]
        ticket, _ = run_until(waiting_ticket(T0), moments, settings)
        reply_at = moments[-1] + 2 * DAY
        ticket = replace(ticket, comments=ticket.comments + (comment(Role.CUSTOMER, reply_at, "I am on it"),))

        actions = evaluate(ticket, reply_at + ONE_SECOND, settings)
        assert rules_fired(actions) == {"clarification.reset"}
        assert isinstance(actions[0], InternalComment)
        assert f"after {reminders_before_reply} reminder(s)" in actions[0].reason
        ticket = after_actions(ticket, actions, reply_at + ONE_SECOND)

        # Ten days after the reply, not before, the count starts again at one; no close meanwhile.
        assert evaluate(ticket, reply_at + 10 * DAY - ONE_SECOND, settings) == []
        next_actions = evaluate(ticket, reply_at + 10 * DAY, settings)
        assert rules_fired(next_actions) == {"clarification.reminder"}
        assert "reminder 1 of 3" in next_actions[0].reason

    def test_a_reply_before_any_reminder_restarts_the_clock_silently(self, settings):
        reply_at = T0 + 8 * DAY
        ticket = waiting_ticket(T0, comment(Role.CUSTOMER, reply_at))
        assert evaluate(ticket, T0 + 10 * DAY, settings) == []
        assert evaluate(ticket, reply_at + 10 * DAY - ONE_SECOND, settings) == []
        assert rules_fired(evaluate(ticket, reply_at + 10 * DAY, settings)) == {"clarification.reminder"}

    def test_a_request_participant_counts_as_the_customer(self, settings):
        ticket = waiting_ticket(T0, comment(Role.CUSTOMER, T0 + 8 * DAY, author=PARTICIPANT))
        assert evaluate(ticket, T0 + 10 * DAY, settings) == []

    @pytest.mark.parametrize("role", [Role.AGENT, Role.AUTOMATION])
    def test_comments_by_agents_or_the_automation_do_not_restart_the_clock(self, settings, role):
        ticket = waiting_ticket(T0, comment(role, T0 + 8 * DAY, public=True))
        assert rules_fired(evaluate(ticket, T0 + 10 * DAY, settings)) == {"clarification.reminder"}

    def test_a_comment_before_entering_the_wait_does_not_move_the_clock(self, settings):
        ticket = waiting_ticket(T0, comment(Role.CUSTOMER, T0 - 3 * DAY))
        assert rules_fired(evaluate(ticket, T0 + 10 * DAY, settings)) == {"clarification.reminder"}

    def test_the_reset_note_is_written_once(self, settings):
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY], settings)
        ticket = replace(ticket, comments=ticket.comments + (comment(Role.CUSTOMER, T0 + 11 * DAY),))
        ticket, history = run_until(ticket, [T0 + 11 * DAY + h * timedelta(hours=1) for h in range(1, 48)], settings)
        assert [a.rule for a in history] == ["clarification.reset"]

    def test_a_sweep_that_missed_the_first_replys_webhook_still_tells_agents_of_the_reset(self, settings):
        """Issue 15.10: the customer replied after a reminder, the webhook was lost, and they
        replied again before any sweep: the sweep sees two replies and no reminder between them."""
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY], settings)
        replies = (comment(Role.CUSTOMER, T0 + 11 * DAY, "Here is the log"), comment(Role.CUSTOMER, T0 + 12 * DAY, "And the package"))
        ticket = replace(ticket, comments=ticket.comments + replies)
        ticket, history = run_until(ticket, [T0 + 12 * DAY + h * timedelta(hours=1) for h in range(1, 24)], settings)
        assert [a.rule for a in history] == ["clarification.reset"]
        assert "after 1 reminder(s) and again on" in history[0].reason

    def test_re_entering_the_wait_starts_a_fresh_clock(self, settings):
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY, T0 + 20 * DAY], settings)
        back = T0 + 22 * DAY
        ticket = replace(ticket, status="Clarification required / On hold", status_since=back)
        assert evaluate(ticket, back + 10 * DAY - ONE_SECOND, settings) == []
        assert "reminder 1 of 3" in evaluate(ticket, back + 10 * DAY, settings)[0].reason


class TestResolved:
    def test_no_close_one_second_before_fifty_days(self, settings):
        assert evaluate(resolved_ticket(T0), T0 + 50 * DAY - ONE_SECOND, settings) == []

    def test_close_at_fifty_days_without_feedback(self, settings):
        actions = evaluate(resolved_ticket(T0), T0 + 50 * DAY, settings)
        assert rules_fired(actions) == {"resolved.close"}
        assert next(a for a in actions if isinstance(a, Transition)).to_status == "Closed"
        assert next(a for a in actions if isinstance(a, PublicComment)).template == "resolved_close"

    def test_a_close_jira_refused_for_good_is_not_tried_again_until_the_ticket_moves(self, settings):
        """A firing logged as refused (a screen field nobody maps) stays refused in this status; one
        refused before the ticket entered it, or a firing that went through, holds nothing back."""
        ticket = resolved_ticket(T0)
        refused = replace(ticket, firings=(Firing("resolved.close", T0 + 50 * DAY, "f1", REFUSED),))
        assert evaluate(refused, T0 + 51 * DAY, settings) == []
        on_entry = replace(ticket, firings=(Firing("resolved.close", T0, "f1", REFUSED),))
        assert evaluate(on_entry, T0 + 51 * DAY, settings) == []
        earlier = replace(ticket, firings=(Firing("resolved.close", T0 - ONE_SECOND, "f1", REFUSED),))
        assert rules_fired(evaluate(earlier, T0 + 51 * DAY, settings)) == {"resolved.close"}
        other_rule = replace(ticket, firings=(Firing("clarification.close", T0 + DAY, "f1", REFUSED),))
        assert rules_fired(evaluate(other_rule, T0 + 51 * DAY, settings)) == {"resolved.close"}

    def test_a_customer_comment_stops_the_fifty_day_clock(self, settings):
        ticket = resolved_ticket(T0, comment(Role.CUSTOMER, T0 + 3 * DAY, "Now something else is broken"))
        actions = evaluate(ticket, T0 + 50 * DAY, settings)
        assert "resolved.close" not in rules_fired(actions)
        hand_back = next(a for a in actions if isinstance(a, Transition))
        assert hand_back.rule == "resolved.confirm"
        assert hand_back.to_status == "In Review by Service Desk"

    def test_an_agent_comment_does_not_stop_the_clock(self, settings):
        ticket = resolved_ticket(T0, comment(Role.AGENT, T0 + 3 * DAY, "please close"))
        assert rules_fired(evaluate(ticket, T0 + 50 * DAY, settings)) == {"resolved.close"}

    @pytest.mark.parametrize(
        "text",
        [
            "Thanks, the ticket can be closed.",
            "Works now! Please close.",
            "Vielen Dank, das Ticket kann geschlossen werden.",
            "Danke, Problem ist gelöst",
            "Danke, Problem ist geloest",
            "Keine weiteren Fragen, Sie können das Ticket schließen.",
            "BITTE SCHLIESSEN",
        ],
    )
    def test_a_confirming_reply_closes_at_once(self, settings, text):
        ticket = resolved_ticket(T0, comment(Role.CUSTOMER, T0 + DAY, text))
        actions = evaluate(ticket, T0 + DAY + ONE_SECOND, settings)
        assert rules_fired(actions) == {"resolved.confirm"}
        assert next(a for a in actions if isinstance(a, Transition)).to_status == "Closed"
        assert next(a for a in actions if isinstance(a, PublicComment)).template == "resolved_confirmed"

    @pytest.mark.parametrize(
        "text",
        [
            "The error still occurs.",
            "Please don't close the ticket yet.",
            "You can not close the ticket, it still fails.",
            "Das Ticket kann nicht geschlossen werden.",
            "Bitte noch nicht schließen.",
            "Leider tritt der Fehler weiterhin auf.",
        ],
    )
    def test_any_other_reply_goes_back_to_the_agents(self, settings, text):
        ticket = resolved_ticket(T0, comment(Role.CUSTOMER, T0 + DAY, text))
        actions = evaluate(ticket, T0 + DAY + ONE_SECOND, settings)
        assert [type(a) for a in actions] == [Transition, InternalComment]
        assert actions[0].to_status == "In Review by Service Desk"

    def test_the_latest_reply_decides(self, settings):
        ticket = resolved_ticket(
            T0,
            comment(Role.CUSTOMER, T0 + DAY, "It does not work"),
            comment(Role.CUSTOMER, T0 + 2 * DAY, "Sorry, my mistake, it works now. Please close."),
        )
        actions = evaluate(ticket, T0 + 3 * DAY, settings)
        assert next(a for a in actions if isinstance(a, Transition)).to_status == "Closed"

    def test_a_reply_before_resolution_is_not_feedback_on_it(self, settings):
        ticket = resolved_ticket(T0, comment(Role.CUSTOMER, T0 - DAY, "please close"))
        assert evaluate(ticket, T0 + DAY, settings) == []


class TestTimeZones:
    def test_ten_days_across_spring_forward_keep_the_time_of_day(self, settings):
        # Entered at 10:00 CET (09:00 UTC); ten calendar days later it is 10:00 CEST (08:00 UTC).
        entered = berlin(2026, 3, 20, 10, 0)
        due = datetime(2026, 3, 30, 8, 0, tzinfo=timezone.utc)
        assert due - entered == timedelta(hours=239)
        ticket = waiting_ticket(entered)
        assert evaluate(ticket, due - ONE_SECOND, settings) == []
        assert rules_fired(evaluate(ticket, due, settings)) == {"clarification.reminder"}

    def test_ten_days_across_fall_back_keep_the_time_of_day(self, settings):
        entered = berlin(2026, 10, 20, 10, 0)  # CEST, 08:00 UTC
        due = datetime(2026, 10, 30, 9, 0, tzinfo=timezone.utc)  # 10:00 CET
        ticket = waiting_ticket(entered)
        assert evaluate(ticket, due - ONE_SECOND, settings) == []
        assert rules_fired(evaluate(ticket, due, settings)) == {"clarification.reminder"}

    def test_times_in_other_offsets_mean_the_same_instant(self, settings):
        entered = berlin(2026, 1, 5, 10, 0)
        in_new_york = (entered + 10 * DAY).astimezone(timezone(timedelta(hours=-5)))
        assert rules_fired(evaluate(waiting_ticket(entered), in_new_york, settings)) == {"clarification.reminder"}

    def test_naive_now_is_rejected(self, settings):
        with pytest.raises(ValueError, match="naive"):
            evaluate(waiting_ticket(T0), datetime(2026, 2, 1, 10, 0), settings)

    def test_naive_ticket_times_are_rejected(self):
        with pytest.raises(ValueError, match="naive"):
            waiting_ticket(datetime(2026, 1, 5, 10, 0))
        with pytest.raises(ValueError, match="naive"):
            Comment("1", "x", Role.CUSTOMER, True, datetime(2026, 1, 5))


class TestGermanSite:
    def test_german_status_names_work_by_settings_alone(self, german_settings):
        ticket = waiting_ticket(T0, status="Klärung erforderlich / Angehalten", language="de")
        actions = evaluate(ticket, T0 + 10 * DAY, german_settings)
        public = next(a for a in actions if isinstance(a, PublicComment))
        assert public.language == "de"
        assert "Dies ist die erste von drei Erinnerungen." in public.body and public.body.endswith("Ihr imc Service Desk")

    def test_english_names_do_nothing_on_a_german_site(self, german_settings):
        assert evaluate(waiting_ticket(T0), T0 + 10 * DAY, german_settings) == []

    def test_german_close_goes_to_the_german_closed_status(self, german_settings):
        ticket = resolved_ticket(T0, status="Gelöst", language="de")
        actions = evaluate(ticket, T0 + 50 * DAY, german_settings)
        assert next(a for a in actions if isinstance(a, Transition)).to_status == "Geschlossen"


class TestWhatCustomersSee:
    def test_a_reminder_names_the_projected_close_date(self, settings):
        public = evaluate(waiting_ticket(T0), T0 + 10 * DAY, settings)[0]
        # Sent on 15 January: reminders on 25 January and 4 February, closing on 14 February.
        assert "14 February 2026" in public.body

    def test_a_german_reminder_dates_in_german(self, settings):
        public = evaluate(waiting_ticket(T0, language="de"), T0 + 10 * DAY, settings)[0]
        assert "14. Februar 2026" in public.body

    def test_public_comments_carry_no_internal_detail_and_no_ticket_text(self, settings):
        secret_summary = "Salary export of Jane Doe, IBAN DE02120300000000202051"
        ticket = replace(waiting_ticket(T0), summary=secret_summary)
        ticket, history = run_until(ticket, [T0 + d * DAY for d in (10, 20, 30, 40)], settings)
        resolved, history2 = run_until(replace(resolved_ticket(T0), summary=secret_summary), [T0 + 50 * DAY], settings)
        public = [a for a in history + history2 if isinstance(a, PublicComment)]
        assert len(public) == 5
        for action in public:
            assert action.rule not in action.body
            assert "jsm-autopilot" not in action.body
            assert "Jane Doe" not in action.body and "IBAN" not in action.body

    def test_every_firing_leaves_an_internal_note_naming_its_rule(self, settings):
        _, history = run_until(waiting_ticket(T0), [T0 + d * DAY for d in (10, 20, 30, 40)], settings)
        for rule in rules_fired(history):
            notes = [a for a in history if isinstance(a, InternalComment) and a.rule == rule]
            assert notes and all(n.body.startswith(f"jsm-autopilot · {rule}: ") for n in notes)


class TestWhatRulesIgnore:
    def test_an_incomplete_snapshot_is_not_decided_on(self, settings):
        ticket = replace(waiting_ticket(T0), complete=False)
        assert evaluate(ticket, T0 + 45 * DAY, settings) == []

    def test_a_ticket_in_another_status_gets_nothing(self, settings):
        assert evaluate(waiting_ticket(T0, status="In Progress"), T0 + 90 * DAY, settings) == []

    def test_a_disabled_rule_does_not_fire(self, settings):
        rules = settings.rules.model_copy(update={"enabled": ["clarification.close"]})
        quiet = settings.model_copy(update={"rules": rules})
        assert evaluate(waiting_ticket(T0), T0 + 10 * DAY, quiet) == []

    def test_the_clock_reports_what_is_next(self, settings):
        clock = clarification_clock(waiting_ticket(T0), settings)
        assert clock.next_step == "reminder" and clock.next_due == T0 + 10 * DAY


class TestNextDue:
    """When a ticket must be read again with nothing changed in Jira (incremental sweeps, issue 16)."""

    def test_a_waiting_ticket_is_due_at_each_reminder_then_the_close(self, settings):
        from jsm_autopilot.rules.catalogue import next_due

        ticket = waiting_ticket(T0)
        assert next_due(ticket, T0 + ONE_SECOND, settings, []) == T0 + 10 * DAY
        ticket, _ = run_until(ticket, [T0 + 10 * DAY], settings)
        assert next_due(ticket, T0 + 10 * DAY + ONE_SECOND, settings, []) == T0 + 20 * DAY
        assert rules_fired(evaluate(ticket, T0 + 20 * DAY, settings)) == {"clarification.reminder"}

    def test_a_resolved_ticket_is_due_at_its_close_and_a_working_ticket_never(self, settings):
        from jsm_autopilot.rules.catalogue import next_due

        assert next_due(resolved_ticket(T0), T0 + DAY, settings, []) == T0 + 50 * DAY
        working = replace(waiting_ticket(T0), status="In Progress")
        assert next_due(working, T0 + DAY, settings, []) is None

    def test_what_waits_for_working_hours_is_due_when_the_desk_opens(self, settings):
        from jsm_autopilot.rules.actions import Deferred
        from jsm_autopilot.rules.catalogue import next_due

        monday = berlin(2026, 2, 9, 8, 0)
        waiting = Deferred("SD-1", "clarification.reminder", "why", not_before=monday)
        assert next_due(waiting_ticket(T0), T0 + 10 * DAY, settings, [waiting]) == monday


class TestScheduleEdges:
    """Boundaries the mutation run (tests/mutate.py) found unpinned in rules/timers.py."""

    def test_a_last_reminder_exactly_one_day_late_keeps_the_scheduled_close_a_second_more_moves_it(self, settings):
        on_time, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY, T0 + 20 * DAY, T0 + 31 * DAY], settings)
        assert clarification_clock(on_time, settings).close_at == T0 + 40 * DAY
        late, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY, T0 + 20 * DAY, T0 + 31 * DAY + ONE_SECOND], settings)
        assert clarification_clock(late, settings).close_at == T0 + 41 * DAY + ONE_SECOND

    def test_a_late_last_reminder_promises_the_later_close(self, settings):
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY, T0 + 20 * DAY], settings)
        [public] = [a for a in evaluate(ticket, T0 + 35 * DAY, settings) if isinstance(a, PublicComment)]
        # Sent on 9 February, five days after its slot: the close is one interval later, 19 February.
        assert "closed automatically on 19 February 2026." in public.body

    def test_the_reason_names_the_slot_due_and_how_many_were_missed(self, settings):
        [first] = [a for a in evaluate(waiting_ticket(T0), T0 + 10 * DAY, settings) if isinstance(a, PublicComment)]
        assert "reminder 1 of 3 was due at 2026-01-15 10:00" in first.reason and "missed" not in first.reason
        [second] = [a for a in evaluate(waiting_ticket(T0), T0 + 25 * DAY, settings) if isinstance(a, PublicComment)]
        assert "reminder 2 of 3 was due at 2026-01-25 10:00" in second.reason
        assert "(1 earlier reminder(s) missed while the service was stopped are not sent)" in second.reason

    def test_a_reply_at_the_very_second_of_a_reminder_resets_the_count_once(self, settings):
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY], settings)
        replied = replace(ticket, comments=ticket.comments + (comment(Role.CUSTOMER, T0 + 10 * DAY, "Here is the log."),))
        [note] = evaluate(replied, T0 + 10 * DAY + DAY, settings)
        assert note.rule == "clarification.reset" and isinstance(note, InternalComment)
        assert "after 1 reminder(s); the reminder count starts again at zero" in note.reason and "and again" not in note.reason

    def test_after_an_outage_the_reason_counts_only_the_reminders_missed_since_the_last_sent(self, settings):
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY], settings)
        [third] = [a for a in evaluate(ticket, T0 + 35 * DAY, settings) if isinstance(a, PublicComment)]
        assert "reminder 3 of 3" in third.reason and "(1 earlier reminder(s) missed" in third.reason

    def test_a_second_reply_without_a_reminder_between_is_named_as_the_later_one(self, settings):
        ticket, _ = run_until(waiting_ticket(T0), [T0 + 10 * DAY], settings)
        replies = (comment(Role.CUSTOMER, T0 + 11 * DAY, "Here is the log."), comment(Role.CUSTOMER, T0 + 12 * DAY, "And a screenshot."))
        [note] = evaluate(replace(ticket, comments=ticket.comments + replies), T0 + 12 * DAY + DAY, settings)
        assert "the customer replied on 2026-01-16 10:00 CET after 1 reminder(s) and again on 2026-01-17 10:00 CET" in note.reason


class TestExactActions:
    """Each timer firing in full: kind, rule, target status, template, language, and the date told."""

    def test_the_first_reminder(self, settings):
        actions = evaluate(waiting_ticket(T0), T0 + 10 * DAY, settings)
        reason = "no customer feedback since 2026-01-05 10:00 CET (10 days); reminder 1 of 3 was due at 2026-01-15 10:00 CET"
        assert [(type(a), a.rule, a.reason) for a in actions] == [(PublicComment, "clarification.reminder", reason),
                                                                  (InternalComment, "clarification.reminder", reason)]
        assert (actions[0].template, actions[0].language) == ("clarification_reminder", "en")
        assert "first of three reminders" in actions[0].body and "closed automatically on 14 February 2026" in actions[0].body
        assert actions[1].body == f"jsm-autopilot · clarification.reminder: {reason}"

    def test_the_close_date_is_the_customers_date_in_their_zone(self, settings):
        """20:00 in Berlin is 06:00 the next morning in Melbourne: Acme's customer reads the 15th."""
        evening = berlin(2026, 1, 5, 20, 0)
        melbourne = replace(waiting_ticket(evening), organisation="Acme Learning Ltd")
        berlin_customer = replace(waiting_ticket(evening), organisation="Muster AG")
        assert "closed automatically on 15 February 2026" in evaluate(melbourne, evening + 10 * DAY, settings)[0].body
        assert "closed automatically on 14 February 2026" in evaluate(berlin_customer, evening + 10 * DAY, settings)[0].body

    def test_the_close_in_german(self, settings):
        ticket, _ = run_until(waiting_ticket(T0, language="de"), [T0 + 10 * DAY, T0 + 20 * DAY, T0 + 30 * DAY], settings)
        told, moved, noted = evaluate(ticket, T0 + 40 * DAY, settings)
        assert (type(told), told.rule, told.template, told.language) == (PublicComment, "clarification.close", "clarification_close", "de")
        assert moved == Transition("SD-1", "clarification.close", told.reason, to_status="Closed", transition=None)
        assert noted == InternalComment("SD-1", "clarification.close", told.reason, body=f"jsm-autopilot · clarification.close: {told.reason}")

    def test_the_resolved_close(self, settings):
        told, moved, noted = evaluate(resolved_ticket(T0), T0 + 50 * DAY, settings)
        assert (told.rule, told.template, told.language) == ("resolved.close", "resolved_close", "en")
        assert (moved.to_status, noted.rule) == ("Closed", "resolved.close")
