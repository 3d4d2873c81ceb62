"""A first start on a site with history cannot flood it: shadow mode writes nothing, and a cap
holds the customer-facing firings of one sweep."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

import jsm_autopilot.cli.live  # noqa: F401  (registers the commands)
from jsm_autopilot.cli.main import main
from jsm_autopilot.connector.sweep import sweep_once
from jsm_autopilot.service.serve import Service
from jsm_autopilot.store.shadow_firings import ShadowFirings
from jsm_autopilot.webhooks.delivery import signature_for

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
WAITING = "Clarification required / On hold"
SECRET = b"shadow-secret"


def writes(site) -> list[dict]:
    """Requests that change Jira: anything but reads and searches."""
    return [r for r in site.requests_made()
            if r["method"] != "GET" and not r["path"].endswith(("/search/jql", "/search")) and not r["path"].startswith("/rest/pat/")]


def test_shadow_mode_receives_and_sweeps_but_writes_nothing_to_jira(site_factory, store, tmp_path):
    site = site_factory(T0)
    waiting, resolved = site.create(), site.create()
    site.move(waiting, WAITING)
    site.move(resolved, "Resolved")
    site.set_clock(T0 + timedelta(days=50))
    settings = site.settings.model_copy(update={"webhooks": site.settings.webhooks.model_copy(update={"settle_seconds": 0.0})})
    service = Service(settings, store, site.client(), SECRET, dry_run=True)
    before = len(writes(site))

    body = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"key": waiting}}).encode()
    answer = service.app.test_client().post("/webhooks/jira", data=body, headers={
        "X-Atlassian-Webhook-Identifier": "w1", "X-Hub-Signature": signature_for(body, SECRET)})
    assert answer.status_code == 202
    assert service.workers[0].run_once()
    report = service.scheduled_sweep()
    service.scheduled_sweep()

    assert len(writes(site)) == before, writes(site)[before:]
    assert report.dry_run and report.firings_applied == 0 and report.firings_planned >= 2
    shadow = {(f.issue, f.rule): f for f in ShadowFirings(store).list()}
    assert (waiting, "clarification.reminder") in shadow and (resolved, "resolved.close") in shadow
    assert shadow[(waiting, "clarification.reminder")].source == "webhook"
    assert shadow[(waiting, "clarification.reminder")].times == 3  # the webhook and two sweeps: one row
    assert "public_comment" in shadow[(resolved, "resolved.close")].summary
    assert [e.status for e in store.list_events()] == ["done"]


def test_shadow_lists_what_would_have_been_done(site_factory, tmp_path):
    from jsm_autopilot.store.event_store import EventStore

    site = site_factory(T0)
    key = site.create()
    site.move(key, WAITING)
    site.set_clock(T0 + timedelta(days=10))
    url = f"sqlite:///{tmp_path / 'shadow.db'}"
    store = EventStore(url)
    store.migrate()
    Service(site.settings, store, site.client(), SECRET, dry_run=True).scheduled_sweep()
    result = CliRunner().invoke(main, ["shadow", "--json"], env={"JSM_AUTOPILOT_DB": url})
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(result.stdout)
    assert (listed["issue"], listed["rule"], listed["source"], listed["times"]) == (key, "clarification.reminder", "sweep", 1)
    text = CliRunner().invoke(main, ["shadow"], env={"JSM_AUTOPILOT_DB": url})
    assert key in text.stdout and "clarification.reminder" in text.stdout


def test_the_cap_holds_over_a_backlog_of_500_due_tickets(site_factory, caplog):
    site = site_factory(T0)
    seed = {"issues": [{"type": "Incident", "summary": f"old ticket {n}", "reporter": "claire@acme.example",
                        "created": (T0 - timedelta(days=60)).isoformat(), "status": WAITING,
                        "status_since": (T0 - timedelta(days=15)).isoformat()} for n in range(500)]}
    site.seed(seed)
    client = site.client()
    cap = site.settings.limits.max_firings_per_sweep
    assert cap == 100
    applied = []
    for _ in range(5):
        report = sweep_once(client, site.settings)
        assert report.failures == []
        applied.append(report.firings_applied)
        assert report.customer_facing <= cap
    assert applied == [100, 100, 100, 100, 100]
    assert any("400 customer-facing firing(s) wait for the next sweep" in r.getMessage() for r in caplog.records)
    reminded = [k for k, issue in site.state.issues.items() if issue.comments]
    assert len(reminded) == 500
    assert sweep_once(client, site.settings).firings_applied == 0


def test_internal_notes_are_not_held_back_by_the_cap(site_factory):
    site = site_factory(T0)

    def capped(cap: int):
        return site.settings.model_copy(update={"limits": site.settings.limits.model_copy(update={"max_firings_per_sweep": cap})})

    early = [site.create(), site.create()]
    for key in early:
        site.move(key, WAITING)
    site.set_clock(T0 + timedelta(days=2))
    late = [site.create(), site.create()]
    for key in late:
        site.move(key, WAITING)
    site.set_clock(T0 + timedelta(days=10))
    assert sweep_once(site.client(), capped(2)).by_rule == {"clarification.reminder": 2}
    site.set_clock(T0 + timedelta(days=11))
    for key in early:
        site.comment(key, "Here is the log file.")  # clarification.reset: an internal note only
    site.set_clock(T0 + timedelta(days=12))
    report = sweep_once(site.client(), capped(1))
    assert report.by_rule == {"clarification.reset": 2, "clarification.reminder": 1}
    assert report.firings_waiting == 1
