"""`why KEY` and the console's ticket box: each rule's verdict on one ticket (rules/verdicts.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from jsm_autopilot.rules.catalogue import RULES, implemented_ids
from jsm_autopilot.rules.verdicts import verdicts
from tests.tickets import waiting_ticket

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in Berlin


def by_rule(found: list[dict]) -> dict[str, dict]:
    return {entry["rule"]: entry for entry in found}


def test_every_rule_of_the_catalogue_gets_one_verdict(settings):
    found = verdicts(waiting_ticket(T0), T0, settings)
    assert [entry["rule"] for entry in found] == [rule.id for rule in RULES]
    assert {entry["state"] for entry in found} <= {"fires", "waits", "due", "idle", "off"}


def test_a_due_reminder_fires_and_before_it_is_due_with_its_moment(settings):
    ticket = waiting_ticket(T0)
    fires = by_rule(verdicts(ticket, T0 + timedelta(days=10, minutes=1), settings))["clarification.reminder"]
    assert fires["state"] == "fires" and "reminder 1 of 3" in fires["why"]
    due = by_rule(verdicts(ticket, T0 + timedelta(days=9), settings))["clarification.reminder"]
    assert due["state"] == "due" and datetime.fromisoformat(due["due"]) == T0 + timedelta(days=10)


def test_a_shadow_only_rule_says_it_writes_nothing(settings):
    shadow = settings.with_rule_switches(settings.rules.enabled or implemented_ids(), ["clarification.reminder"])
    fires = by_rule(verdicts(waiting_ticket(T0), T0 + timedelta(days=10, minutes=1), shadow))["clarification.reminder"]
    assert fires["state"] == "fires" and fires["why"].startswith("shadow only, kept and not written: ")


def test_off_planned_and_elsewhere_are_told_apart(settings):
    off = settings.with_rule_switches([r for r in settings.rules.enabled or [] if r != "resolved.close"], [])
    found = by_rule(verdicts(waiting_ticket(T0), T0 + timedelta(days=1), off))
    assert found["resolved.close"] == {"rule": "resolved.close", "state": "off",
                                       "why": "switched off (rules.enabled in app.yaml, or the console)"}
    assert found["customisation.offer"]["why"] == "planned in PROCESS.md, not implemented yet"
    assert found["resolved.confirm"]["state"] == "idle" and "acts only in 'Resolved'" in found["resolved.confirm"]["why"]
    assert found["delivery.create"]["why"] == "decided with the Delivery ticket it concerns (see `sweep`)"


def test_a_rule_with_nothing_to_do_says_what_it_acts_on_with_this_sites_names(settings):
    opened = waiting_ticket(T0, status="Opened")
    found = by_rule(verdicts(opened, T0 + timedelta(days=1), settings))["intake.email_request"]
    assert found["state"] == "idle"
    assert found["why"] == "nothing to do now; it acts on: " + next(r for r in RULES if r.id == "intake.email_request").describe(settings)


def test_a_reminder_due_on_a_weekend_waits_for_the_regions_next_working_day(settings):
    with_hours = settings.with_rule_switches(implemented_ids(), [])  # hours.window on, as shipped
    wednesday = datetime(2026, 1, 7, 9, 0, tzinfo=timezone.utc)
    found = by_rule(verdicts(waiting_ticket(wednesday), wednesday + timedelta(days=10, minutes=1), with_hours))["clarification.reminder"]
    assert found["state"] == "waits"  # due on Saturday the 17th; Acme is served from Melbourne
    assert datetime.fromisoformat(found["not_before"]) == datetime(2026, 1, 19, tzinfo=ZoneInfo("Australia/Melbourne"))
