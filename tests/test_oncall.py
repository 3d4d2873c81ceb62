"""oncall.alert: a serious Incident raised on a weekend or public holiday reaches the on-call service
once, through a webhook and through a sweep alike; a minor one, or one on a weekday night, waits for
the desk."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import Flask, request
from werkzeug.serving import make_server

from jsm_autopilot.config.loader import settings_from_mapping
from jsm_autopilot.connector.oncall import OnCallSender
from jsm_autopilot.connector.sweep import sweep_once
from jsm_autopilot.rules.actions import InternalComment, OnCallAlert, PublicComment
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import Ticket
from tests.conftest import ROOT, settings_for_site, shipped_settings_data

BERLIN = ZoneInfo("Europe/Berlin")
SATURDAY = datetime(2026, 2, 7, 11, 0, tzinfo=BERLIN)
SECRET = "oncall-secret"


@pytest.fixture(scope="module")
def shipped():
    return settings_from_mapping(shipped_settings_data(), base_directory=ROOT)


def incident(priority: str | None, created: datetime, **changes) -> Ticket:
    return replace(Ticket(key="SD-9", type="Incident", status="Opened", status_since=created, created=created, complete=True,
                          organisation="Muster AG", language="de", priority=priority, summary="Plattform down"), **changes)


def test_a_serious_incident_outside_hours_alerts_at_once_and_tells_the_customer(shipped):
    actions = evaluate(incident("P1", SATURDAY), SATURDAY + timedelta(minutes=1), shipped)
    alert = [a for a in actions if a.rule == "oncall.alert"]
    assert [type(a) for a in alert] == [OnCallAlert, PublicComment, InternalComment]
    assert alert[0].dedupe_key == "jsm-autopilot:SD-9:oncall.alert" and alert[0].region == "emea"
    assert "Rufbereitschaft" in alert[1].body


@pytest.mark.parametrize("ticket", [
    incident("P3", SATURDAY),  # not serious
    incident("P1", datetime(2026, 2, 9, 10, 0, tzinfo=BERLIN)),  # raised while the desk works
    incident("P1", datetime(2026, 2, 10, 22, 0, tzinfo=BERLIN)),  # a Tuesday night: the international team is there
    incident("P1", datetime(2026, 2, 6, 23, 59, 59, tzinfo=BERLIN)),  # the last second of Friday
    incident("P1", SATURDAY, type="Request"),  # not an incident
    incident(None, SATURDAY, summary="Question about the export", description="How do I export a report?"),
])
def test_what_does_not_alert(shipped, ticket):
    assert [a for a in evaluate(ticket, ticket.created + timedelta(minutes=1), shipped) if a.rule == "oncall.alert"] == []


def test_a_ticket_is_alerted_once(shipped):
    from jsm_autopilot.rules.model import Firing

    alerted = incident("P1", SATURDAY, firings=(Firing("oncall.alert", SATURDAY),))
    assert [a for a in evaluate(alerted, SATURDAY + timedelta(hours=1), shipped) if a.rule == "oncall.alert"] == []


def alerts(ticket, settings) -> list[OnCallAlert]:
    return [a for a in evaluate(ticket, ticket.created + timedelta(minutes=1), settings) if isinstance(a, OnCallAlert)]


def test_a_portal_incident_without_a_priority_is_serious_by_its_urgency_impact_or_text(shipped):
    """Customers cannot set a priority on the portal (guide 2.5): PROCESS.md, oncall.alert."""
    plain = dict(summary="Frage zum Export", description="Wie exportiere ich einen Bericht?")
    for serious in ({"custom_fields": {"urgency": "Critical"}}, {"custom_fields": {"impact": "Extensive / Widespread"}},
                    {"summary": "Plattform nicht erreichbar"}, {"description": "Since 9:00 the system is down for all users."}):
        found = alerts(incident(None, SATURDAY, **{**plain, **serious}), shipped)
        assert [a.level for a in found] == ["P2"], serious
    assert alerts(incident(None, SATURDAY, **plain, custom_fields={"urgency": "Medium", "impact": "Minor / Localized"}), shipped) == []
    # An agent's priority decides over what the form says.
    assert alerts(incident("P4", SATURDAY, **plain, custom_fields={"urgency": "Critical"}), shipped) == []
    # A phrase counts as a whole word, not inside another ("Ausfallzeit" planning is no outage).
    assert alerts(incident(None, SATURDAY, summary="Planung der Wartungsfenster", description="Kein Ausfallzeitplan nötig"), shipped) == []


def test_the_alert_its_comment_and_note_exactly(shipped):
    [alert, told, note] = [a for a in evaluate(incident("P1", SATURDAY), SATURDAY + timedelta(minutes=1), shipped)
                           if a.rule == "oncall.alert"]
    reason = "a serious Incident (priority P1) raised on 2026-02-07 11:00 CET, on a weekend in region emea: the on-call service is alerted"
    assert alert == OnCallAlert("SD-9", "oncall.alert", reason, summary="Plattform down", priority="P1", region="emea",
                                dedupe_key="jsm-autopilot:SD-9:oncall.alert", level="P1")
    assert (told.template, told.language, told.reason) == ("oncall_alerted", "de", reason)
    assert isinstance(note, InternalComment) and note.body == f"jsm-autopilot · oncall.alert: {reason}"


def test_on_a_public_holiday_the_reason_names_it():
    """Christmas Day 2026 is a Friday: a weekday the desk does not work in Saarland."""
    christmas = datetime(2026, 12, 25, 11, 0, tzinfo=BERLIN)
    shipped = settings_from_mapping(shipped_settings_data(), base_directory=ROOT)
    [alert] = alerts(incident("P2", christmas), shipped)
    assert alert.level == "P2" and ", on Christmas Day in region emea:" in alert.reason


def test_a_resolved_closed_or_incompletely_read_incident_does_not_alert(shipped):
    statuses = shipped.statuses
    for changed in ({"status": statuses.resolved}, {"status": statuses.closed}, {"complete": False}):
        assert alerts(incident("P1", SATURDAY, **changed), shipped) == [], changed
    assert len(alerts(incident("P1", SATURDAY), shipped)) == 1


def test_a_serious_portal_incident_without_a_priority_has_an_sla_clock(shipped):
    from jsm_autopilot.rules.sla import REACTION, sla_clock

    monday = datetime(2026, 2, 9, 10, 0, tzinfo=BERLIN)
    urgent = incident(None, monday, custom_fields={"urgency": "Critical"})
    clock = sla_clock(urgent, REACTION, monday + timedelta(hours=1), shipped)
    as_p2 = sla_clock(replace(urgent, priority=shipped.priorities.p2), REACTION, monday + timedelta(hours=1), shipped)
    assert clock is not None and clock.running and clock.target == as_p2.target
    assert sla_clock(incident(None, monday, summary="Question", description="How?"), REACTION, monday + timedelta(hours=1), shipped) is None


def shipped_site(site_factory, now: datetime):
    """A sandbox site with the shipped app.yaml (oncall.alert and hours.window on)."""
    site = site_factory(now)
    site.settings = settings_for_site(settings_from_mapping(shipped_settings_data(), base_directory=ROOT))
    return site


class Receiver:
    """The on-call service's endpoint: answers 503 to the first `fail` posts, then keeps the rest."""

    def __init__(self, fail: int = 0):
        self.alerts: list[dict] = []
        self.keys: list[str] = []
        self.fail = fail
        app = Flask("oncall")

        @app.post("/alert")
        def alert():
            self.keys.append(request.headers.get("Idempotency-Key", ""))
            if self.fail:
                self.fail -= 1
                return {"error": "busy"}, 503
            self.alerts.append(request.get_json())
            return {"ok": True}, 202

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/alert"

    def close(self):
        self.server.shutdown()


def test_a_p1_raised_on_saturday_reaches_the_receiver_once_through_serve_and_a_p4_does_not(site_factory, tmp_path):
    """`jsm-autopilot serve` as users run it (a process, the URL in its environment), fed by the
    sandbox's webhooks: the P1 reaches the receiver within seconds, once, though its first attempt
    met a busy receiver; the P4 raised at the same moment does not."""
    from jsm_autopilot.connector.executor import Executor
    from tests.test_serve_process import SECRET as SERVE_SECRET
    from tests.test_serve_process import ServeProcess, wait_for

    site = shipped_site(site_factory, SATURDAY - timedelta(minutes=5))
    receiver = Receiver(fail=1)  # retried, with the same key
    serve = ServeProcess(site, tmp_path)
    serve.environment["JSM_AUTOPILOT_ONCALL_URL"] = receiver.url
    serve.start()
    requests.post(f"{site.url}/_sandbox/webhooks", json={"url": f"{serve.url}/webhooks/jira", "secret": SERVE_SECRET}).raise_for_status()
    try:
        site.set_clock(SATURDAY)
        started = datetime.now()
        serious = site.create(summary="Platform down", priority={"name": "P1"})
        minor = site.create(summary="Typo on the login page", priority={"name": "P4"})
        wait_for(lambda: receiver.alerts, 10, "the on-call alert")
        assert (datetime.now() - started).total_seconds() < 10
        wait_for(lambda: len(site.comments_by_bot(serious, public=True)) == 1, 10, "the customer to be told")
        wait_for(lambda: site.state.webhooks.pending == 0, 10, "the sandbox's webhooks to be delivered")
        # A later sweep, and the P4: nothing more reaches the on-call service.
        site.set_clock(SATURDAY + timedelta(minutes=30))
        sweep_once(site.client(), site.settings, executor=Executor(site.client(), site.settings, alerts=OnCallSender(receiver.url)))
        assert [a["issue"] for a in receiver.alerts] == [serious]
        assert receiver.keys == [f"jsm-autopilot:{serious}:oncall.alert"] * 2
        assert site.comments_by_bot(minor, public=True) == [] and len(site.comments_by_bot(serious, public=True)) == 1
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=10)
        receiver.close()


def test_through_a_sweep_alone_the_alert_is_sent_once(site_factory):
    site = shipped_site(site_factory, SATURDAY)
    receiver = Receiver()
    try:
        key = site.create(summary="Platform down", priority={"name": "P2"})
        from jsm_autopilot.connector.executor import Executor

        client = site.client()
        executor = Executor(client, site.settings, alerts=OnCallSender(receiver.url, sleep=lambda seconds: None))
        site.set_clock(SATURDAY + timedelta(minutes=10))
        assert sweep_once(client, site.settings, executor=executor).by_rule.get("oncall.alert") == 1
        assert sweep_once(client, site.settings, executor=executor).firings_applied == 0
        assert [a["issue"] for a in receiver.alerts] == [key] and receiver.alerts[0]["link"].endswith(f"/browse/{key}")
    finally:
        receiver.close()


def test_through_the_sandbox_a_tuesday_night_p1_pages_nobody_and_a_saturday_critical_portal_incident_pages_once(site_factory):
    from jsm_autopilot.connector.executor import Executor

    tuesday_night = datetime(2026, 2, 10, 22, 0, tzinfo=BERLIN)
    site = shipped_site(site_factory, tuesday_night)
    receiver = Receiver()
    try:
        client = site.client()
        executor = Executor(client, site.settings, alerts=OnCallSender(receiver.url, sleep=lambda seconds: None))
        night = site.create(summary="Platform down", priority={"name": "P1"})
        site.set_clock(tuesday_night + timedelta(minutes=10))
        assert sweep_once(client, site.settings, executor=executor).failures == []
        assert receiver.alerts == [] and site.comments_by_bot(night, public=True) == []
        site.set_clock(SATURDAY)
        # Raised on the portal: no priority, the form's urgency Critical.
        portal = site.create(summary="Kurse lassen sich nicht starten", **{site.settings.fields.urgency: {"value": "Critical"}})
        site.set_clock(SATURDAY + timedelta(minutes=10))
        assert sweep_once(client, site.settings, executor=executor).by_rule.get("oncall.alert") == 1
        site.set_clock(SATURDAY + timedelta(hours=2))
        assert "oncall.alert" not in sweep_once(client, site.settings, executor=executor).by_rule
        assert [(a["issue"], a["priority"]) for a in receiver.alerts] == [(portal, None)]
        assert len(site.comments_by_bot(portal, public=True)) == 1
    finally:
        receiver.close()


def test_without_an_on_call_address_the_firing_fails_and_says_so(site_factory):
    site = shipped_site(site_factory, SATURDAY)
    key = site.create(summary="Platform down", priority={"name": "P1"})
    site.set_clock(SATURDAY + timedelta(minutes=10))
    report = sweep_once(site.client(), site.settings)
    assert any("neither JSM_AUTOPILOT_ONCALL_URL nor JSM_AUTOPILOT_JSM_OPS_API_KEY is set" in f for f in report.failures)
    assert site.comments_by_bot(key, public=True) == []  # the customer is not told of an alert that was not sent


def test_jira_service_managements_own_alerts_take_it_once_beside_the_webhook(site_factory):
    """The second channel: JSM operations' integration events API (GenieKey, alias de-duplicates)."""
    from jsm_autopilot.connector.executor import Executor

    site = shipped_site(site_factory, SATURDAY)
    receiver = Receiver()
    try:
        key = site.create(summary="Plattform nicht erreichbar " + "und sehr lange Beschreibung " * 6, priority={"name": "P1"})
        client = site.client()
        sender = OnCallSender.from_environment({"JSM_AUTOPILOT_ONCALL_URL": receiver.url, "JSM_AUTOPILOT_JSM_OPS_API_KEY": "sandbox-ops-key"},
                                               jsm_ops_url=f"{site.url}/jsm/ops/integration/v2/alerts")
        sender.sleep = lambda seconds: None
        assert sender.channels == ["webhook", "jsm-ops"]
        executor = Executor(client, site.settings, alerts=sender)
        site.set_clock(SATURDAY + timedelta(minutes=10))
        assert sweep_once(client, site.settings, executor=executor).by_rule.get("oncall.alert") == 1
        assert sweep_once(client, site.settings, executor=executor).firings_applied == 0
        [alert] = requests.get(f"{site.url}/_sandbox/ops-alerts").json()["alerts"]
        assert alert["alias"] == f"jsm-autopilot:{key}:oncall.alert" and alert["count"] == 1
        assert alert["message"].startswith(f"{key}: Plattform") and len(alert["message"]) == 130  # shortened, not refused
        assert "P1" in alert["tags"] and alert["details"]["link"].endswith(f"/browse/{key}")
        assert alert["priority"] == "P1", "a P1 ticket pages as P1, not as the default P3"
        assert [a["issue"] for a in receiver.alerts] == [key]
    finally:
        receiver.close()


def test_a_wrong_jsm_operations_key_fails_the_firing_and_says_so(site_factory):
    from jsm_autopilot.connector.executor import Executor

    site = shipped_site(site_factory, SATURDAY)
    key = site.create(summary="Platform down", priority={"name": "P2"})
    sender = OnCallSender(jsm_ops_key="revoked", jsm_ops_url=f"{site.url}/jsm/ops/integration/v2/alerts", sleep=lambda seconds: None)
    site.set_clock(SATURDAY + timedelta(minutes=10))
    report = sweep_once(site.client(), site.settings, executor=Executor(site.client(), site.settings, alerts=sender))
    assert any("401" in f and "Could not authenticate" in f for f in report.failures)
    assert site.comments_by_bot(key, public=True) == []
    assert OnCallSender.from_environment({}) is None


def test_a_failing_on_call_channel_is_labelled_as_the_channels_and_does_not_pause_the_service(site_factory, tmp_path):
    """Issue 29 item 4: the on-call failure is the on-call channel's, never "Jira answered", and it
    is not Jira being away (workers and sweeps go on); the executor tells whether the channel took it."""
    from jsm_autopilot.connector.client import jira_away
    from jsm_autopilot.connector.executor import Executor
    from jsm_autopilot.errors import AlertFailed

    site = shipped_site(site_factory, SATURDAY)
    receiver = Receiver(fail=99)
    heard: list = []
    try:
        key = site.create(summary="Platform down", priority={"name": "P1"})
        executor = Executor(site.client(), site.settings, alerts=OnCallSender(receiver.url, attempts=2, sleep=lambda seconds: None),
                            on_alert=heard.append)
        site.set_clock(SATURDAY + timedelta(minutes=10))
        [failure] = sweep_once(site.client(), site.settings, executor=executor).failures
        assert failure == f"{key} oncall.alert: on-call channel {receiver.url}: answered 503: {{\"error\":\"busy\"}}\n"
        assert heard == [failure.split(": ", 1)[1]]
        assert not jira_away(AlertFailed("POST", receiver.url, None, "ConnectionError"))
        receiver.fail = 0
        site.set_clock(SATURDAY + timedelta(minutes=30))
        assert sweep_once(site.client(), site.settings, executor=executor).by_rule.get("oncall.alert") == 1
        assert heard[-1] is None
    finally:
        receiver.close()
