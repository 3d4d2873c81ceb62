"""What the rules return: values the connector carries out, and notes the automation knows again."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from jsm_autopilot.rules.actions import (
    Deferred,
    FieldChange,
    InternalComment,
    IssueLinkChange,
    PublicComment,
    Table,
    audit_note,
    due_now,
    firings_of,
    rule_named_in_audit_note,
)

AT = datetime(2026, 2, 9, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("body, rule", [
    ("jsm-autopilot · clarification.reminder: reminder 1 of 3", "clarification.reminder"),
    ("jsm-autopilot · resolved.close:", "resolved.close"),
    ("jsm-autopilot ·  sla.reaction : late", "sla.reaction"),
    ("clarification.reminder: someone's own note", None),  # no prefix
    ("Re: jsm-autopilot · resolved.close: quoted", None),  # the prefix not at the start
    ("jsm-autopilot · a note without a rule", None),  # no separator
    ("jsm-autopilot · : no rule before the colon", None),
    ("jsm-autopilot ·   : blank rule", None),
])
def test_the_rule_an_audit_note_names(body, rule):
    assert rule_named_in_audit_note(body) == rule


def test_an_audit_note_names_its_rule_and_is_known_again():
    note = audit_note("SD-1", "resolved.close", "closed after 14 days without an answer")
    assert note == InternalComment("SD-1", "resolved.close", "closed after 14 days without an answer",
                                   body="jsm-autopilot · resolved.close: closed after 14 days without an answer")
    assert rule_named_in_audit_note(note.body) == "resolved.close"


def test_what_waits_for_working_hours_is_not_done_now():
    comment = PublicComment("SD-1", "clarification.reminder", "due", body="Any news?", language="en", template="reminder")
    waiting = Deferred("SD-2", "resolved.close", "a weekend", not_before=AT)
    assert due_now([waiting, comment, waiting]) == [comment]
    assert due_now([]) == []


def test_actions_are_grouped_into_one_firing_per_rule_in_order():
    first = audit_note("SD-1", "b.rule", "x")
    second = audit_note("SD-1", "a.rule", "y")
    third = audit_note("SD-1", "b.rule", "z")
    assert firings_of([first, second, third]) == {"b.rule": [first, third], "a.rule": [second]}
    assert list(firings_of([first, second, third])) == ["b.rule", "a.rule"]


def test_actions_are_values_even_with_a_table_inside():
    """Frozen: a decided action cannot change between the plan shown and the write."""
    table = Table("Included tickets", ("Key", "Type"), (("SD-1", "Software Defect"),))
    change = FieldChange("SD-9", "delivery.create", "listed", field="description", value=table)
    link = IssueLinkChange("SD-9", "delivery.create", "listed", other="SD-1", link_type="Relates")
    assert hash(change) == hash(FieldChange("SD-9", "delivery.create", "listed", field="description", value=table))
    assert len({change, link, change}) == 2
    for value in (table, change, link):
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.rule = "other"  # type: ignore[misc]


def test_a_field_change_shows_dates_as_iso_text_in_json():
    assert FieldChange("SD-1", "intake.accept", "answered", field="customfield_1", value=AT).as_json() == {
        "kind": "field_change", "issue": "SD-1", "rule": "intake.accept", "reason": "answered", "field": "customfield_1",
        "value": "2026-02-09T00:00:00+00:00"}
    assert Deferred("SD-1", "resolved.close", "a weekend", not_before=AT).as_json() == {
        "kind": "deferred", "issue": "SD-1", "rule": "resolved.close", "reason": "a weekend", "not_before": "2026-02-09T00:00:00+00:00"}
