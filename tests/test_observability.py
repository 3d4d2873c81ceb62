"""`GET /metrics` and the JSON logs of the service."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from service.logs import configure_json_logging
from service.serve import Service
from webhooks.delivery import signature_for

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
    assert any(l.get("issue") == key and l.get("rule") == "clarification.reminder" for l in lines)
    assert any(l.get("event_identifier") == "d1" for l in lines)
    assert all({"time", "level", "logger", "message"} <= set(l) for l in lines)
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
