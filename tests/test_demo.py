"""`jsm-autopilot demo`: 60 simulated days in which every implemented rule fires, shown as its
reader receives it; with a German site's names too."""

from __future__ import annotations

from rich.console import Console

from jsm_autopilot.rules.catalogue import RULES
from jsm_autopilot.service.demo import run_demo


def test_the_demo_fires_every_implemented_rule_and_shows_what_its_reader_received():
    from jsm_autopilot.config.loader import settings_from_mapping
    from tests.conftest import ROOT, shipped_settings_data

    shipped = settings_from_mapping(shipped_settings_data(), base_directory=ROOT)  # hours.window on, as users run it
    console = Console(record=True, width=200)
    result = run_demo(shipped, days=60, console=console)
    fired = {rule for rule, _ in result.by_rule}
    assert fired == {rule.id for rule in RULES if rule.implemented and not rule.shapes_others}
    assert result.by_rule[("clarification.reset", "webhook")] >= 1, "a customer's reply reset the clock through the webhook path"
    assert result.statuses["Closed"] > 4
    # An outage raised on the portal (no priority) on a Saturday evening in Melbourne reached the on-call receiver, once.
    assert [(a["summary"], a["priority"], a["region"]) for a in result.oncall_alerts] == [("Platform down for all users", None, "apac")]
    # Deliveries: two planned in Jira and filled in by the sweep, one through the API, whose date moves.
    assert result.by_rule[("delivery.create", "sweep")] == 2 and result.by_rule[("delivery.create", "API")] == 1
    # Made on a Saturday: announced to the customer in Melbourne on Monday morning (hours.window).
    assert result.by_rule[("delivery.date_changed", "sweep")] == 1
    assert result.statuses["Delivered"] == 1 and result.statuses["Installation completed"] == 1
    # A customer's thanks on a Sunday closes the ticket on Monday morning, not on Sunday (hours.window).
    assert result.deferred["resolved.confirm"] >= 1
    # SD-28, accepted as a P2 defect, warns its team lead before the miss is escalated (sla.resolution).
    assert result.by_rule[("sla.resolution", "sweep")] == 2
    text = console.export_text()
    assert "closed: emea (Christmas Day), apac (Christmas Day): nothing customer-facing there now (resolved.confirm 1" in text
    assert "80% of the target reached" in text and "(mentions 5b10ac8d82e05b22cc7d0001)" in text
    # An e-mail reply quoting the agent's "Sie können das Ticket schließen" under "Leider dasselbe Bild" is handed back.
    assert "SD-16  resolved.confirm" in text and "without confirming the solution (no confirming phrase)" in text
    assert "60 simulated days" in text
    shown = text.split("What the rules wrote", 1)[1]
    for rule in fired:
        assert f"── {rule}: " in shown, f"no example text for {rule}"
    assert "── delivery.done: the public comment on" in shown and "── reclassify.suggestion: the public comment on" in shown
    assert "── triage.suggest: speaks to agents only" in shown


def test_the_demo_runs_on_a_german_site_with_its_own_names(german_settings):
    console = Console(record=True, width=200)
    result = run_demo(german_settings, days=25, console=console)
    assert result.statuses["Geschlossen"] >= 1 and result.statuses["Ausgeliefert"] == 1
    assert {"clarification.reminder", "delivery.done", "reclassify.suggestion"} <= {rule for rule, _ in result.by_rule}
    assert "auf „Gelöst“" in console.export_text()
