"""`jsm-autopilot demo`: 60 simulated days show reminders, closures and the reset after a reply."""

from __future__ import annotations

from rich.console import Console

from service.demo import run_demo


def test_the_demo_shows_the_process_working(settings):
    console = Console(record=True, width=200)
    result = run_demo(settings, days=60, console=console)
    fired = {rule for rule, _ in result.by_rule}
    assert {"clarification.reminder", "clarification.close", "clarification.reset", "resolved.close", "resolved.confirm"} <= fired
    assert result.by_rule[("clarification.reset", "webhook")] >= 1, "a customer's reply reset the clock through the webhook path"
    assert result.statuses["Closed"] > 4
    # Deliveries: two planned in Jira and filled in by the sweep, one through the API, whose date moves.
    assert result.by_rule[("delivery.create", "sweep")] == 2 and result.by_rule[("delivery.create", "API")] == 1
    assert result.by_rule[("delivery.date_changed", "API")] == 1
    assert result.by_rule[("delivery.done", "webhook")] >= 4
    assert result.statuses["Delivered"] == 1 and result.statuses["Installation completed"] == 1
    text = console.export_text()
    assert "60 simulated days" in text and "simulated days" in text
