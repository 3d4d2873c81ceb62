"""The catalogue's answers the sweep and `check` rely on: which statuses to search, whether to look
at Delivery tickets, when to look again, and each rule's settings in words."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import timedelta

import pytest

from jsm_autopilot.config.loader import settings_from_mapping
from jsm_autopilot.rules.catalogue import RULES, candidate_statuses, delivery_rules_enabled, next_check, with_switches
from tests.conftest import ROOT, berlin, shipped_settings_data
from tests.tickets import waiting_ticket

BY_ID = {rule.id: rule for rule in RULES}


@pytest.fixture(scope="module")
def shipped():
    return with_switches(settings_from_mapping(shipped_settings_data(), base_directory=ROOT))


def only(settings, *rule_ids: str):
    return settings.model_copy(update={"rules": settings.rules.model_copy(update={"enabled": list(rule_ids)})})


def test_the_sweep_searches_the_statuses_of_the_enabled_rules_in_catalogue_order(shipped):
    assert candidate_statuses(shipped) == (
        "Opened", "In Review by Service Desk", "Clarification required / On hold", "In Progress", "Delivery Pending",
        "Estimation in progress", "Estimation available", "Ordered", "Planned", "Stage installation completed", "Resolved")
    assert candidate_statuses(only(shipped, "clarification.reminder")) == ("Clarification required / On hold",)
    assert candidate_statuses(only(shipped, "reclassify.confidential"))[-1] == "Resolved"
    assert candidate_statuses(only(shipped, "hours.window")) == ()  # it shapes the others, it searches nothing


def test_delivery_tickets_are_read_only_when_a_delivery_rule_is_on(shipped):
    assert delivery_rules_enabled(shipped)
    assert delivery_rules_enabled(only(shipped, "delivery.done"))
    assert not delivery_rules_enabled(only(shipped, "clarification.reminder", "resolved.close"))


def test_a_reclassification_is_looked_at_again_once_it_settles_not_at_that_instant(shipped):
    changed = berlin(2026, 3, 2, 10, 0)
    suggestion = replace(waiting_ticket(changed - timedelta(days=2)), type="Suggestion", type_since=changed)
    settles = changed + timedelta(minutes=2)  # reclassification.grace
    assert next_check(suggestion, settles - timedelta(seconds=1), shipped) == settles
    assert next_check(suggestion, settles, shipped) is None
    assert next_check(replace(suggestion, type="Incident"), changed, shipped) is None


def test_check_states_the_sla_targets_with_this_sites_numbers(shipped):
    assert BY_ID["sla.reaction"].describe(shipped) == (
        "working-time targets P1 1h, P2 4h, P3 1d, P4 2d (1 organisation(s) with their own) from creation to the first "
        "public agent answer; the team lead is told at 80%, the next escalation level when missed")
    # Acme's contract changes only the reaction time: no organisation has its own resolution time.
    assert BY_ID["sla.resolution"].describe(shipped).startswith("working-time targets P1 1d, P2 2d, P3 10d, P4 20d from acceptance")
    data = shipped_settings_data()
    data["sla"] = {**data["sla"], "targets": {"p1": {"resolution": "1d"}}}
    data["organisations"]["Acme Learning Ltd"].pop("sla")
    sparse = settings_from_mapping(data, base_directory=ROOT)
    assert BY_ID["sla.reaction"].describe(sparse).startswith("working-time targets none set (sla.targets) from creation")
    assert BY_ID["sla.resolution"].describe(sparse).startswith("working-time targets P1 1d from acceptance")


def test_check_states_the_default_region_of_the_working_hours(shipped):
    assert BY_ID["hours.window"].describe(shipped).endswith("(2 region(s); default emea)")
    data = shipped_settings_data()
    data["service_hours"] = {**data["service_hours"], "default_region": None}
    assert BY_ID["hours.window"].describe(settings_from_mapping(data, base_directory=ROOT)).endswith("(2 region(s); default none)")


def test_a_rule_of_the_catalogue_cannot_be_changed_at_run_time():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES[0].id = "something.else"  # type: ignore[misc]
