"""escalation.complaint: a complaint goes to agents and the region's team lead, never closes a ticket."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from jsm_autopilot.connector.documents import document
from jsm_autopilot.rules.actions import InternalComment, Transition
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import Firing, Role
from tests.conftest import berlin
from tests.tickets import comment, resolved_ticket, waiting_ticket

T0 = berlin(2026, 2, 2, 10, 0)


@pytest.mark.parametrize("organisation, text, lead", [
    ("Acme Learning Ltd", "This is unacceptable, I want to escalate this to your manager.", "5b10ac8d82e05b22cc7d0002"),
    ("Muster AG", "Ich möchte mich über die lange Bearbeitungszeit beschweren.", "5b10ac8d82e05b22cc7d0001"),
])
def test_a_complaint_mentions_the_regions_team_lead(settings, organisation, text, lead):
    ticket = replace(waiting_ticket(T0 - timedelta(days=3), comment(Role.CUSTOMER, T0, text)), organisation=organisation)
    notes = [a for a in evaluate(ticket, T0 + timedelta(minutes=1), settings) if a.rule == "escalation.complaint"]
    assert len(notes) == 1 and isinstance(notes[0], InternalComment) and notes[0].mentions == (lead,)
    assert notes[0].body.startswith("jsm-autopilot · escalation.complaint:")
    told = replace(ticket, firings=(Firing("escalation.complaint", T0 + timedelta(minutes=1)),))
    assert [a for a in evaluate(told, T0 + timedelta(minutes=2), settings) if a.rule == "escalation.complaint"] == []


def test_a_plain_reply_is_no_complaint(settings):
    ticket = waiting_ticket(T0 - timedelta(days=3), comment(Role.CUSTOMER, T0, "Here is the log file you asked for."))
    assert [a for a in evaluate(ticket, T0 + timedelta(minutes=1), settings) if a.rule == "escalation.complaint"] == []


def test_a_complaint_on_a_resolved_ticket_hands_it_back_and_never_closes_it(settings):
    ticket = resolved_ticket(T0 - timedelta(days=3), comment(Role.CUSTOMER, T0, "Please close it - but I want to file a complaint."))
    actions = evaluate(ticket, T0 + timedelta(minutes=1), settings)
    transition = next(a for a in actions if isinstance(a, Transition))
    assert transition.to_status == settings.statuses.hand_back_to
    assert any(a.rule == "escalation.complaint" for a in actions)


def test_mentions_notify_as_each_deployment_writes_them():
    cloud = document("note", "3", ("5b10ac8d82e05b22cc7d0001",))
    assert cloud["content"][-1]["content"][0] == {"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d0001"}}
    assert document("note", "2", ("anna",)).endswith("[~anna]")


def test_the_note_is_exactly_one_internal_comment_naming_the_phrase_the_local_time_and_the_lead(settings):
    """The phrase is the reply's last two words: a match at the very end counts."""
    from jsm_autopilot.rules.escalation import complaint

    ticket = waiting_ticket(T0 - timedelta(days=3), comment(Role.CUSTOMER, T0, "Three weeks now. Please tell your manager"))
    reason = ('the customer complains or asks to escalate ("your manager") on 2026-02-02 10:00 CET; '
              "the team lead is mentioned")
    assert complaint(ticket, T0 + timedelta(minutes=1), settings) == [
        InternalComment("SD-1", "escalation.complaint", reason, body=f"jsm-autopilot · escalation.complaint: {reason}",
                        mentions=("5b10ac8d82e05b22cc7d0002",))]


def test_a_phrase_split_across_the_end_of_the_reply_is_no_complaint(settings):
    from jsm_autopilot.rules.feedback import phrase_in

    phrases = settings.escalation.complaint_phrases
    assert phrase_in("your", phrases) is None and phrase_in("manager", phrases) is None
    assert phrase_in("Your manager", phrases) == "your manager"
    assert phrase_in("", phrases) is None


def test_no_note_in_a_closed_ticket_nor_from_an_incomplete_read(settings):
    """An incomplete read (Jira truncated the comments) may hide that the complaint was answered."""
    from jsm_autopilot.rules.escalation import complaint

    ticket = waiting_ticket(T0 - timedelta(days=3), comment(Role.CUSTOMER, T0, "This is unacceptable."))
    at = T0 + timedelta(minutes=1)
    assert len(complaint(ticket, at, settings)) == 1
    assert complaint(replace(ticket, status=settings.statuses.closed), at, settings) == []
    assert complaint(replace(ticket, complete=False), at, settings) == []


def test_without_a_team_lead_for_the_region_the_note_says_so_and_mentions_nobody():
    from jsm_autopilot.config.loader import settings_from_mapping
    from jsm_autopilot.rules.escalation import complaint
    from tests.conftest import ROOT, shipped_settings_data, without_hours_window

    data = without_hours_window(shipped_settings_data())
    data["escalation"] = {**data["escalation"], "levels": []}
    no_leads = settings_from_mapping(data, base_directory=ROOT)
    ticket = waiting_ticket(T0 - timedelta(days=3), comment(Role.CUSTOMER, T0, "This is unacceptable."))
    [note] = complaint(ticket, T0 + timedelta(minutes=1), no_leads)
    assert not note.mentions
    assert note.reason.endswith("no team lead is set for this region (escalation.levels)")
