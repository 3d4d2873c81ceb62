"""`GET /metrics` and the JSON logs of the service."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from jsm_autopilot.service.logs import configure_json_logging
from jsm_autopilot.service.serve import Service
from jsm_autopilot.webhooks.delivery import signature_for

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
SECRET = "webhook-secret-value"
CUSTOMER_TEXT = "My password is hunter2, please help"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_and_logs_after_webhooks_and_a_sweep(site_factory, store, monkeypatch):
    monkeypatch.setenv("JSM_AUTOPILOT_WEBHOOK_SECRET", SECRET)
    captured = io.StringIO()
    handler = configure_json_logging(logging.INFO, stream=captured)
    try:
        site = site_factory(T0 - timedelta(days=1))
        key = site.create()
        site.set_clock(T0)
        site.move(key, "Clarification required / On hold")
        site.comment(key, CUSTOMER_TEXT)
        site.set_clock(T0 + timedelta(days=10))
        settings = site.settings.model_copy(update={"webhooks": site.settings.webhooks.model_copy(update={"settle_seconds": 0.0})})
        service = Service(settings, store, site.client(), SECRET.encode())
        receiver = service.app.test_client()
        body = json.dumps({"webhookEvent": "comment_created", "issue": {"key": key}, "comment": {"body": CUSTOMER_TEXT}}).encode()
        headers = {"X-Atlassian-Webhook-Identifier": "d1", "X-Hub-Signature": signature_for(body, SECRET.encode())}
        assert receiver.post("/webhooks/jira", data=body, headers=headers).status_code == 202
        assert receiver.post("/webhooks/jira", data=body, headers=headers).status_code == 202
        assert receiver.post("/webhooks/jira", data=body, headers={"X-Hub-Signature": "sha256=00"}).status_code == 401
        service.workers[0].run_once()
        service.scheduled_sweep()

        metrics = receiver.get("/metrics")
        assert metrics.status_code == 200 and metrics.content_type.startswith("text/plain")
        values = samples(metrics.get_data(as_text=True))
    finally:
        logging.getLogger().removeHandler(handler)

    assert values[("jsm_autopilot_webhook_events_received_total", (("outcome", "accepted"),))] == 1
    assert values[("jsm_autopilot_webhook_events_received_total", (("outcome", "duplicate"),))] == 1
    assert values[("jsm_autopilot_webhook_events_received_total", (("outcome", "refused"),))] == 1
    assert values[("jsm_autopilot_webhook_events_processed_total", (("outcome", "done"),))] == 1
    assert values[("jsm_autopilot_actions_applied_total", (("rule", "clarification.reminder"),))] == 2
    assert values[("jsm_autopilot_jira_calls_total", (("status", "200"),))] >= 3
    assert values[("jsm_autopilot_sweep_duration_seconds_count", ())] == 1
    assert values[("jsm_autopilot_sweep_tickets_seen", ())] == 1
    assert ("jsm_autopilot_jira_retries_total", ()) in values

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert any(entry.get("issue") == key and entry.get("rule") == "clarification.reminder" for entry in lines)
    assert any(entry.get("event_identifier") == "d1" for entry in lines)
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    everything = captured.getvalue()
    assert SECRET not in everything and "hunter2" not in everything and "api-token" not in everything


def test_a_secret_in_a_message_is_masked(monkeypatch):
    monkeypatch.setenv("JIRA_API_TOKEN", "tok-123456")
    captured = io.StringIO()
    handler = configure_json_logging(logging.INFO, stream=captured)
    try:
        logging.getLogger("jsm_autopilot.test").error("Jira said: bad token tok-123456")
    finally:
        logging.getLogger().removeHandler(handler)
    assert "tok-123456" not in captured.getvalue() and "bad token ***" in captured.getvalue()


def test_failed_firings_and_dead_letters_are_counted_and_readiness_is_a_gauge(site_factory, store):
    """Issue 29: /metrics gains counters for failed firings and dead letters (what the alert rules
    in deploy/prometheus/alerts.yml watch). A screen that requires a field app.yaml does not fill
    fails resolved.close for good; with one attempt allowed, its event becomes a dead letter."""
    from tests.test_real_jira_behaviour import ROOT_CAUSE

    site = site_factory(T0)
    site.state.screen_fields["Closed"] = {"customfield_10400": ROOT_CAUSE}
    key = site.create()
    site.move(key, "Resolved")
    site.set_clock(T0 + timedelta(days=50))
    settings = site.settings.model_copy(update={"webhooks": site.settings.webhooks.model_copy(update={"settle_seconds": 0.0,
                                                                                                     "max_attempts": 1})})
    service = Service(settings, store, site.client(), SECRET.encode())
    receiver = service.app.test_client()
    body = json.dumps({"webhookEvent": "comment_created", "issue": {"key": key}, "comment": {"body": "?"}}).encode()
    headers = {"X-Atlassian-Webhook-Identifier": "d1", "X-Hub-Signature": signature_for(body, SECRET.encode())}
    assert receiver.post("/webhooks/jira", data=body, headers=headers).status_code == 202
    service.health.probe()
    before = samples(receiver.get("/metrics").get_data(as_text=True))
    assert before[("jsm_autopilot_dead_letters_total", ())] == 0 and before[("jsm_autopilot_ready", ())] == 1
    service.workers[0].run_once()
    values = samples(receiver.get("/metrics").get_data(as_text=True))
    assert values[("jsm_autopilot_firings_failed_total", (("rule", "resolved.close"),))] == 1
    assert values[("jsm_autopilot_dead_letters_total", ())] == 1
    assert [e.status for e in store.list_events()] == ["failed"]
    service.health.checked = False  # as before the first check: /readyz says 503, and so does the gauge
    assert samples(receiver.get("/metrics").get_data(as_text=True))[("jsm_autopilot_ready", ())] == 0


def test_the_alert_rules_are_valid_and_fire_on_the_metrics_the_service_exports(site_factory, store):
    """`promtool check rules` and `promtool test rules` (Debian's prometheus package; .ci/run
    installs it), and every metric the rules name is one /metrics exports."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    import pytest

    rules = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not here (Debian: apt-get install prometheus; .ci/run does)")
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run([promtool, *command], cwd=rules, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    service = Service(site_factory(T0).settings, store, site_factory(T0).client(), SECRET.encode())
    # Every family, with or without samples yet (a labelled counter shows none before its first failure).
    exported = set(re.findall(r"^# TYPE (\S+)", service.app.test_client().get("/metrics").get_data(as_text=True), re.M))
    named = set(re.findall(r"jsm_autopilot_[a-z_]+", (rules / "alerts.yml").read_text()))
    assert named and named <= exported, named - exported
