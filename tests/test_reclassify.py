"""Intake and reclassification rules, in English and German."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from jsm_autopilot.rules.actions import FieldChange, InternalComment, PublicComment, Transition
from jsm_autopilot.rules.catalogue import evaluate, next_check
from jsm_autopilot.rules.model import Firing, Role, Ticket
from tests.conftest import GERMAN_STATUSES, ONE_SECOND, berlin
from tests.tickets import after_actions, comment

T0 = berlin(2026, 3, 2, 10, 0)
MINUTE = timedelta(minutes=1)


def ticket(issue_type: str = "Incident", status: str = "In Progress", organisation: str = "Acme Learning Ltd",
           language: str = "en", type_since=T0, **changes) -> Ticket:
    base = Ticket(key="SD-5", type=issue_type, status=status, status_since=T0 - timedelta(days=1), created=T0 - timedelta(days=2),
                  organisation=organisation, language=language, reporter="qm:customer", type_since=type_since)
    return replace(base, **changes)


def fired(actions, rule: str):
    return [a for a in actions if a.rule == rule]


class TestAccept:
    def test_the_first_public_agent_answer_accepts_an_opened_ticket(self, settings):
        answered = T0 + timedelta(hours=3)
        opened = ticket(status="Opened", comments=(comment(Role.CUSTOMER, T0 + MINUTE), comment(Role.AGENT, answered, "Looking into it")))
        actions = fired(evaluate(opened, answered + MINUTE, settings), "intake.accept")
        assert [type(a) for a in actions] == [FieldChange, Transition, InternalComment]
        assert actions[0].field == settings.fields.accepted_at and actions[0].value == answered
        assert actions[1].to_status == "In Review by Service Desk"
        assert after_actions(opened, actions, answered + MINUTE).status == "In Review by Service Desk"
        assert fired(evaluate(after_actions(opened, actions, answered + MINUTE), answered + 2 * MINUTE, settings), "intake.accept") == []

    def test_internal_notes_and_customer_comments_are_no_answer(self, settings):
        opened = ticket(status="Opened", comments=(comment(Role.AGENT, T0, "internal", public=False), comment(Role.CUSTOMER, T0)))
        assert fired(evaluate(opened, T0 + MINUTE, settings), "intake.accept") == []

    def test_on_a_german_site(self, german_settings):
        opened = ticket(status=GERMAN_STATUSES["opened"], comments=(comment(Role.AGENT, T0),))
        transition = next(a for a in evaluate(opened, T0 + MINUTE, german_settings) if isinstance(a, Transition))
        assert transition.to_status == GERMAN_STATUSES["in_review"]


class TestPriority:
    def test_a_software_defect_at_p1_goes_to_p2(self, settings):
        actions = fired(evaluate(ticket("Software Defect", priority="P1"), T0, settings), "reclassify.priority")
        assert actions[0] == FieldChange("SD-5", "reclassify.priority", actions[0].reason, field="priority", value={"name": "P2"})
        assert "reclassify.priority" in actions[1].body and "P1 is for system availability" in actions[1].body

    def test_a_non_software_defect_may_be_p1(self, settings):
        assert fired(evaluate(ticket("Non-Software Defect", priority="P1"), T0, settings), "reclassify.priority") == []

    def test_a_defect_without_priority_gets_one_request_per_reclassification(self, settings):
        defect = ticket("Software Defect", priority=None)
        request = fired(evaluate(defect, T0 + MINUTE, settings), "reclassify.priority")
        assert len(request) == 1 and "needs a priority (P2-P4)" in request[0].body
        asked = after_actions(defect, request, T0 + MINUTE)
        assert fired(evaluate(asked, T0 + 2 * MINUTE, settings), "reclassify.priority") == []
        reclassified = replace(asked, type="Non-Software Defect", type_since=T0 + 5 * MINUTE)
        assert "(P1-P4)" in fired(evaluate(reclassified, T0 + 6 * MINUTE, settings), "reclassify.priority")[0].body

    def test_a_request_in_the_same_instant_as_the_change_counts(self, settings):
        # A sweep in the same millisecond as the reclassification must not ask twice.
        asked = ticket("Software Defect", priority=None, firings=(Firing("reclassify.priority", T0),))
        assert fired(evaluate(asked, T0, settings), "reclassify.priority") == []

    def test_other_types_carry_no_priority_rule(self, settings):
        assert fired(evaluate(ticket("Support Request"), T0, settings), "reclassify.priority") == []


class TestSuggestionAndConsulting:
    def test_nothing_is_said_before_the_grace_period(self, settings):
        suggestion = ticket("Suggestion", type_since=T0)
        assert fired(evaluate(suggestion, T0 + 2 * MINUTE - ONE_SECOND, settings), "reclassify.suggestion") == []
        assert next_check(suggestion, T0 + MINUTE, settings) == T0 + 2 * MINUTE

    def test_a_suggestion_is_forwarded_and_resolved(self, settings):
        actions = fired(evaluate(ticket("Suggestion"), T0 + 2 * MINUTE, settings), "reclassify.suggestion")
        assert [type(a) for a in actions] == [PublicComment, Transition, InternalComment]
        assert "product management" in actions[0].body and actions[1].to_status == "Resolved"

    def test_a_german_customer_reads_german(self, settings):
        actions = fired(evaluate(ticket("Suggestion", organisation="Muster AG", language="de"), T0 + 3 * MINUTE, settings), "reclassify.suggestion")
        assert "Produktmanagement" in actions[0].body and actions[0].language == "de"

    def test_consulting_is_announced_as_charged_to_the_budget(self, settings):
        actions = fired(evaluate(ticket("Consulting Request", organisation="Muster AG", language="de"), T0 + 2 * MINUTE, settings), "reclassify.consulting")
        assert [type(a) for a in actions] == [PublicComment, InternalComment]
        assert "erweitertes Support-Budget" in actions[0].body

    def test_without_a_budget_only_agents_are_warned(self, settings):
        actions = fired(evaluate(ticket("Consulting Request", organisation="Beispiel GmbH", language="de"), T0 + 2 * MINUTE, settings), "reclassify.consulting")
        assert [type(a) for a in actions] == [InternalComment]
        assert "no extended support budget" in actions[0].body

    def test_said_once_per_reclassification(self, settings):
        consulting = ticket("Consulting Request", firings=(Firing("reclassify.consulting", T0 + 2 * MINUTE),))
        assert fired(evaluate(consulting, T0 + 10 * MINUTE, settings), "reclassify.consulting") == []

    def test_a_change_undone_within_the_grace_period_leaves_no_comment(self, settings):
        # Set to Suggestion at T0, back to Incident 30 s later: when the grace period ends, the
        # ticket is an Incident again, and nothing is said.
        undone = ticket("Incident", type_since=T0 + timedelta(seconds=30))
        assert [a for a in evaluate(undone, T0 + 5 * MINUTE, settings) if isinstance(a, PublicComment)] == []

    def test_a_ticket_created_with_the_type_is_no_reclassification(self, settings):
        created_so = ticket("Consulting Request", type_since=T0 - timedelta(days=2))  # == created
        assert fired(evaluate(created_so, T0 + 5 * MINUTE, settings), "reclassify.consulting") == []

    def test_old_reclassifications_are_not_announced_after_the_fact(self, settings):
        # Installing the service on a site with history: a change made two days ago stays quiet.
        old = ticket("Suggestion", type_since=T0 - timedelta(days=1, minutes=1))
        assert fired(evaluate(old, T0, settings), "reclassify.suggestion") == []
        assert fired(evaluate(ticket("Software Defect", type_since=T0 - timedelta(days=1, minutes=1)), T0, settings), "reclassify.priority") == []

    def test_resolved_or_closed_tickets_are_left_alone(self, settings):
        assert fired(evaluate(ticket("Suggestion", status="Resolved"), T0 + 5 * MINUTE, settings), "reclassify.suggestion") == []


class TestConfidential:
    def _confidential(self, answer: str, organisation: str = "Muster AG", **changes) -> Ticket:
        return ticket(organisation=organisation, custom_fields={"confidential": answer}, **changes)

    def test_yes_restricts_to_the_regions_security_level(self, settings):
        for answer in ("Yes", "Ja"):
            actions = fired(evaluate(self._confidential(answer), T0, settings), "reclassify.confidential")
            assert actions[0].field == "security" and actions[0].value == {"id": "10100"}
            assert not any(isinstance(a, PublicComment) for a in actions)

    def test_already_restricted_is_left_alone(self, settings):
        assert fired(evaluate(self._confidential("Yes", security_level="10100"), T0, settings), "reclassify.confidential") == []

    def test_no_answers_no_action(self, settings):
        assert fired(evaluate(self._confidential("No"), T0, settings), "reclassify.confidential") == []

    def test_an_organisation_without_region_gets_agents_one_note(self, settings):
        unknown = self._confidential("Yes", organisation="Unknown Corp")
        note = fired(evaluate(unknown, T0, settings), "reclassify.confidential")
        assert [type(a) for a in note] == [InternalComment] and "no support region" in note[0].body
        assert fired(evaluate(after_actions(unknown, note, T0), T0 + MINUTE, settings), "reclassify.confidential") == []


    def test_exactly_the_security_level_and_a_note(self, settings):
        reason = "confidential personal data: visible only to the emea support staff (issue security level 10100)"
        assert fired(evaluate(self._confidential("Yes"), T0, settings), "reclassify.confidential") == [
            FieldChange("SD-5", "reclassify.confidential", reason, field="security", value={"id": "10100"}),
            InternalComment("SD-5", "reclassify.confidential", reason, body=f"jsm-autopilot · reclassify.confidential: {reason}")]

    def test_a_ticket_without_organisation_is_named_as_such_in_the_note(self, settings):
        [note] = fired(evaluate(self._confidential("Yes", organisation=None), T0, settings), "reclassify.confidential")
        assert note.reason == ("confidential personal data, but no support region is set for this organisation "
                               "(organisations.<name>.region in app.yaml): restrict the ticket by hand")

    def test_a_closed_or_incompletely_read_ticket_is_left_alone(self, settings):
        assert fired(evaluate(self._confidential("Yes", status=settings.statuses.closed), T0, settings), "reclassify.confidential") == []
        assert fired(evaluate(self._confidential("Yes", complete=False), T0, settings), "reclassify.confidential") == []


class TestWindows:
    """reclassification.window (1d) and .grace (2m): the second before, at and after each edge."""

    def test_recent_ends_exactly_one_window_after_the_moment(self, settings):
        from jsm_autopilot.rules.reclassify import recent

        day = timedelta(days=1)
        assert recent(T0, T0 + day - ONE_SECOND, settings)
        assert not recent(T0, T0 + day, settings)
        assert not recent(None, T0, settings)

    def test_a_type_set_at_creation_or_never_set_has_no_settling_time(self, settings):
        from jsm_autopilot.rules.reclassify import settled_at

        created = T0 - timedelta(days=2)
        assert settled_at(ticket(created=created, type_since=None), settings) is None
        assert settled_at(ticket(created=created, type_since=created), settings) is None
        assert settled_at(ticket(created=created, type_since=T0), settings) == T0 + 2 * MINUTE


class TestEmail:
    def _mailed(self, **changes) -> Ticket:
        # Never retyped: the type was set when the ticket was created.
        fields = {"channel": "email", "type_since": T0 - timedelta(days=2), **changes}
        return ticket("Incident", status="Opened", **fields)

    def test_an_email_ticket_is_typed_request(self, settings):
        actions = fired(evaluate(self._mailed(), T0, settings), "intake.email_request")
        assert actions[0] == FieldChange("SD-5", "intake.email_request", actions[0].reason, field="issuetype", value={"name": "Request"})
        assert "came in by e-mail" in actions[1].body

    def test_portal_tickets_and_unknown_channels_keep_their_type(self, settings):
        for channel in ("portal", None):
            assert fired(evaluate(self._mailed(channel=channel), T0, settings), "intake.email_request") == []

    def test_an_agents_choice_of_type_is_kept(self, settings):
        retyped = self._mailed(type_since=T0 - timedelta(hours=1))  # changed after creation
        assert fired(evaluate(retyped, T0, settings), "intake.email_request") == []


class TestGermanSite:
    def test_an_email_ticket_on_a_german_site(self, german_settings):
        mailed = ticket("Incident", status=GERMAN_STATUSES["opened"], channel="email", type_since=T0 - timedelta(days=2))
        actions = fired(evaluate(mailed, T0, german_settings), "intake.email_request")
        assert actions[0].value == {"name": "Request"}

    def test_priority_on_a_german_site(self, german_settings):
        defect = ticket("Software Defect", status=GERMAN_STATUSES["in_progress"], priority="P1")
        assert fired(evaluate(defect, T0, german_settings), "reclassify.priority")[0].value == {"name": "P2"}

    def test_nothing_on_english_status_names_at_a_german_site(self, german_settings):
        defect = ticket("Software Defect", status="In Progress", priority="P1")
        assert fired(evaluate(defect, T0, german_settings), "reclassify.priority") == []
