"""Jira JSON to Ticket: real webhook captures, the search/jql shape, and what is refused."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from jsm_autopilot.connector.mapping import adf_to_text, parse_jira_datetime, ticket_from_issue_json, ticket_from_webhook
from jsm_autopilot.errors import IssueMappingError
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import Role
from tests.conftest import ROOT, SHARED, berlin
from tests.example_issues import ANNA, BOT, CLAIRE, example_issues
from tests.jira_json import IssueBuilder, user

CAPTURES = sorted((SHARED / "fixtures" / "jira-webhooks").glob("*.json"))


def test_the_captures_are_there():
    assert len(CAPTURES) >= 10, f"expected the webhook captures in {SHARED}/fixtures/jira-webhooks"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_every_webhook_capture_maps_to_a_partial_ticket(settings, capture):
    payload = json.loads(capture.read_text(encoding="utf-8"))
    ticket = ticket_from_webhook(payload, settings)
    assert ticket.key == payload["issue"]["key"]
    assert ticket.status == payload["issue"]["fields"]["status"]["name"]
    assert ticket.type == payload["issue"]["fields"]["issuetype"]["name"]
    assert ticket.complete is False
    # A webhook alone is never decided on: the worker re-reads the issue first.
    assert evaluate(ticket, datetime(2030, 1, 1, tzinfo=timezone.utc), settings) == []


def _capture(name: str) -> dict:
    return json.loads((SHARED / "fixtures" / "jira-webhooks" / name).read_text(encoding="utf-8"))


def test_a_status_change_event_dates_the_new_status_by_the_event(settings):
    payload = _capture("webhook-issue-updated-resolved.json")
    ticket = ticket_from_webhook(payload, settings)
    assert ticket.status == "Done"
    assert ticket.status_since == datetime.fromtimestamp(payload["timestamp"] / 1000, tz=timezone.utc)
    assert ticket.resolved == datetime(2019, 2, 15, 19, 15, 40, 470000, tzinfo=timezone(timedelta(hours=-8)))


def test_a_data_center_event_identifies_users_by_name(settings):
    payload = _capture("webhook-server-issue-updated-resolved.json")
    ticket = ticket_from_webhook(payload, settings)
    assert ticket.reporter == "admin"
    assert ticket.status == "Resolved"


def test_an_event_without_a_status_change_leaves_the_status_date_unknown(settings):
    ticket = ticket_from_webhook(_capture("webhook-issue-updated-assigned.json"), settings)
    assert ticket.status_since is None


def test_a_comment_event_carries_its_comment_with_jsd_public(settings):
    payload = _capture("webhook-cloud-comment-created.json")
    ticket = ticket_from_webhook(payload, settings)
    assert [c.id for c in ticket.comments] == [payload["comment"]["id"]]
    assert ticket.comments[0].public is True
    assert ticket.comments[0].body == payload["comment"]["body"]


def test_an_internal_comment_event_maps_to_an_internal_comment(settings):
    # Synthetic: no public capture of a JSM internal comment exists (JIRA-CONTRACT.md section 2).
    payload = _capture("webhook-cloud-comment-created.json")
    payload["comment"]["jsdPublic"] = False
    assert ticket_from_webhook(payload, settings).comments[0].public is False


def test_a_deleted_comment_is_not_taken_as_present(settings):
    ticket = ticket_from_webhook(_capture("webhook-cloud-comment-deleted.json"), settings)
    assert ticket.comments == ()


def test_jira_dates_with_milliseconds_and_compact_offsets_parse():
    parsed = parse_jira_datetime("2019-08-27T12:43:24.193-0700", "SD-1", "fields.created")
    assert parsed == datetime(2019, 8, 27, 19, 43, 24, 193000, tzinfo=timezone.utc)


def test_a_date_without_zone_is_refused_naming_the_field():
    with pytest.raises(IssueMappingError, match="SD-1: fields.created: date-time without a time zone"):
        parse_jira_datetime("2019-08-27T12:43:24.193", "SD-1", "fields.created")


def test_adf_bodies_become_plain_text():
    body = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Danke, "},
                                              {"type": "text", "text": "kann geschlossen werden", "marks": [{"type": "strong"}]}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "Gruß"}, {"type": "hardBreak"}, {"type": "mention", "attrs": {"text": "@Anna"}}]},
        ],
    }
    assert adf_to_text(body) == "Danke, kann geschlossen werden\nGruß\n@Anna\n"


class TestSearchResult:
    def _waiting(self):
        issue = IssueBuilder("SD-7", "Incident", "Clarification required / On hold", berlin(2026, 1, 2), CLAIRE, organisation="Muster AG")
        issue.participants.append(user("qm:colleague", "Colleague", "customer"))
        issue.moved(berlin(2026, 1, 3), "Opened", "In Review by Service Desk")
        issue.moved(berlin(2026, 1, 5), "In Review by Service Desk", "Clarification required / On hold")
        return issue

    def test_status_since_is_the_last_status_change(self, settings):
        ticket = ticket_from_issue_json(self._waiting().json(), settings)
        assert ticket.status_since == berlin(2026, 1, 5)
        assert ticket.complete

    def test_a_ticket_never_moved_has_been_in_its_status_since_creation(self, settings):
        issue = IssueBuilder("SD-8", "Request", "Opened", berlin(2026, 1, 2), CLAIRE)
        assert ticket_from_issue_json(issue.json(), settings).status_since == berlin(2026, 1, 2)

    def test_authors_get_roles_from_reporter_participants_and_the_automation_account(self, settings):
        issue = self._waiting()
        issue.commented(berlin(2026, 1, 6), CLAIRE, "from the reporter")
        issue.commented(berlin(2026, 1, 7), user("qm:colleague", "Colleague", "customer"), "from a participant")
        issue.commented(berlin(2026, 1, 8), ANNA, "from an agent")
        issue.commented(berlin(2026, 1, 9), BOT, "reminder", rule="clarification.reminder")
        ticket = ticket_from_issue_json(issue.json(), settings)
        assert [c.role for c in ticket.comments] == [Role.CUSTOMER, Role.CUSTOMER, Role.AGENT, Role.AUTOMATION]

    def test_the_organisation_decides_the_language(self, settings):
        assert ticket_from_issue_json(self._waiting().json(), settings).language == "de"
        issue = self._waiting()
        issue.organisation = "Unknown Corp"
        assert ticket_from_issue_json(issue.json(), settings).language == settings.language.default

    def test_the_automation_knows_its_own_audit_notes_from_their_text(self, settings):
        issue = self._waiting()
        issue.commented(berlin(2026, 1, 9), BOT, "jsm-autopilot · clarification.reset: the customer replied", public=False)
        assert ticket_from_issue_json(issue.json(), settings).comments[-1].rule == "clarification.reset"

    def test_past_firings_come_from_the_automations_issue_property(self, settings):
        issue = self._waiting()
        issue.commented(berlin(2026, 1, 15), BOT, "Dear customer, we are still waiting", rule="clarification.reminder")
        ticket = ticket_from_issue_json(issue.json(), settings)
        assert [(f.rule, f.at) for f in ticket.firings] == [("clarification.reminder", berlin(2026, 1, 15))]
        # So a restart changes nothing: the second reminder is due ten days after the logged one.
        assert evaluate(ticket, berlin(2026, 1, 25) - timedelta(seconds=1), settings) == []
        assert "reminder 2 of 3" in evaluate(ticket, berlin(2026, 1, 25), settings)[0].reason

    def test_a_reminder_text_without_a_log_entry_is_not_counted(self, settings):
        # Only the log, written in the same call as the comment, says a reminder went out.
        issue = self._waiting()
        issue.commented(berlin(2026, 1, 15), BOT, "Dear customer, we are still waiting")
        assert ticket_from_issue_json(issue.json(), settings).firings == ()

    def test_a_malformed_firing_log_is_refused_naming_the_property(self, settings):
        issue = self._waiting()
        issue.properties = {"jsm-autopilot": {"firings": [{"rule": "clarification.reminder", "at": "soon"}]}}
        with pytest.raises(IssueMappingError, match=r"SD-7: properties.jsm-autopilot.firings\[0\].at"):
            ticket_from_issue_json(issue.json(), settings)

    def test_someone_else_writing_the_audit_prefix_is_not_the_automation(self, settings):
        issue = self._waiting()
        issue.commented(berlin(2026, 1, 9), ANNA, "jsm-autopilot · clarification.reminder: fake", public=False)
        comment = ticket_from_issue_json(issue.json(), settings).comments[-1]
        assert comment.role is Role.AGENT and comment.rule is None

    def test_internal_comments_are_recognised_by_the_jsm_property_too(self, settings):
        issue = self._waiting()
        issue.commented(berlin(2026, 1, 9), ANNA, "note")
        raw = issue.comments[-1]
        del raw["jsdPublic"]
        raw["properties"] = [{"key": "sd.public.comment", "value": {"internal": True}}]
        assert ticket_from_issue_json(issue.json(), settings).comments[-1].public is False

    def test_an_internal_note_by_the_reporter_is_an_agents_never_customer_feedback(self, settings):
        issue = self._waiting()
        issue.commented(berlin(2026, 1, 9), issue.reporter, "please close", public=False)
        issue.commented(berlin(2026, 1, 10), issue.reporter, "please close")
        internal, public = ticket_from_issue_json(issue.json(), settings).comments[-2:]
        assert (internal.role, public.role) == (Role.AGENT, Role.CUSTOMER)


class TestRefusals:
    @pytest.mark.parametrize(
        "mutate, field",
        [
            (lambda i: i["fields"].pop("status"), "fields.status"),
            (lambda i: i["fields"].pop("created"), "fields.created"),
            (lambda i: i.pop("changelog"), "changelog"),
            (lambda i: i["fields"].pop("comment"), "fields.comment"),
            (lambda i: i["fields"]["comment"].update(total=500), "fields.comment"),
            (lambda i: i["fields"]["comment"]["comments"][0].update(created="yesterday"), "fields.comment.comments[0].created"),
            (lambda i: i["fields"].update(issuetype="Incident"), "fields.issuetype"),
        ],
    )
    def test_a_malformed_issue_is_refused_naming_issue_and_field(self, settings, mutate, field):
        raw = copy.deepcopy(example_issues()[0])
        mutate(raw)
        with pytest.raises(IssueMappingError) as refused:
            ticket_from_issue_json(raw, settings)
        assert refused.value.issue == "SD-101"
        assert refused.value.field == field
        assert str(refused.value).startswith(f"SD-101: {field}: ")

    def test_a_truncated_changelog_without_the_status_change_is_refused(self, settings):
        raw = copy.deepcopy(example_issues()[0])
        raw["changelog"]["histories"] = []
        raw["changelog"]["total"] = 120
        with pytest.raises(IssueMappingError, match="changelog: holds 0 of 120"):
            ticket_from_issue_json(raw, settings)


def test_the_shipped_example_is_what_the_builder_makes():
    shipped = json.loads((ROOT / "examples" / "search-jql.json").read_text(encoding="utf-8"))
    assert shipped["issues"] == example_issues(), "regenerate: python -m tests.example_issues > examples/search-jql.json"


def test_on_data_center_the_automation_is_known_by_its_user_name(settings):
    issue = IssueBuilder("SD-9", "Incident", "Opened", berlin(2026, 1, 2), {"name": "claire", "key": "JIRAUSER10001"})
    issue.commented(berlin(2026, 1, 3), {"name": settings.automation.account, "key": "JIRAUSER10002"}, "note", public=False)
    ticket = ticket_from_issue_json(issue.json(), settings)
    assert ticket.reporter == "claire"
    assert ticket.comments[0].role is Role.AUTOMATION


def test_a_moment_is_written_as_the_fields_schema_asks():
    """Jira's date-time format has a millisecond fraction and an offset without a colon; a date field
    takes the day the moment falls on in the site's zone (Europe/Berlin: 23:30 UTC is the next day)."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from jsm_autopilot.connector.documents import field_value

    moment = datetime(2026, 3, 23, 23, 30, 29, 56789, tzinfo=timezone.utc)
    berlin = ZoneInfo("Europe/Berlin")
    assert field_value(moment, "3", "datetime", berlin) == "2026-03-23T23:30:29.056+0000"
    assert field_value(moment.astimezone(ZoneInfo("Asia/Kolkata")), "2", "datetime", berlin) == "2026-03-24T05:00:29.056+0530"
    assert field_value(moment, "3", "date", berlin) == "2026-03-24"
    assert field_value(moment - timedelta(minutes=31), "3", "date", berlin) == "2026-03-23"
    assert field_value(date(2026, 12, 1), "3", "date", berlin) == "2026-12-01"
    assert field_value({"name": "P2"}, "3", None, berlin) == {"name": "P2"}


def test_a_quoted_block_stays_a_quote_in_the_text():
    """An ADF blockquote (a reply's quoted thread) reads as "> " lines, which the reading of replies drops."""
    from jsm_autopilot.connector.mapping import adf_to_text
    from jsm_autopilot.connector.replies import written_now

    body = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Same as yesterday."}]},
        {"type": "blockquote", "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "We fixed the export."}, {"type": "hardBreak"}, {"type": "text", "text": "You can close the ticket."}]}]}]}
    assert adf_to_text(body) == "Same as yesterday.\n> We fixed the export.\n> You can close the ticket.\n"
    assert written_now(adf_to_text(body)) == "Same as yesterday."
