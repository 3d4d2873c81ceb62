"""Reclassification rules against the sandbox, through a webhook and through a sweep: same result,
nothing done twice; and an agent's change undone within a minute leaves the customer nothing."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
from werkzeug.serving import make_server

from jsm_autopilot.connector.executor import Executor
from jsm_autopilot.connector.mapping import adf_to_text
from jsm_autopilot.connector.sweep import sweep_once
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.webhooks.receiver import create_receiver
from jsm_autopilot.webhooks.worker import Worker
from tests.site import AGENT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
LOCAL = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


class WebhookPath:
    """The sandbox's webhooks into the real receiver and store; a worker on a clock we move."""

    def __init__(self, site, tmp_path):
        self.site = site
        self.store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
        self.store.migrate()
        self.clock = {"now": LOCAL}
        app = create_receiver(self.store, site.settings.project.key, b"secret", 2**20, clock=lambda: self.clock["now"])
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{self.server.server_port}/webhooks/jira"
        requests.post(f"{site.url}/_sandbox/webhooks", json={"url": url, "secret": "secret"}).raise_for_status()
        client = site.client()
        self.worker = Worker(self.store, client, site.settings, Executor(client, site.settings), clock=lambda: self.clock["now"])

    def drain(self) -> None:
        """Let every delivery arrive, then let the worker take whatever is due now."""
        pause, deadline = threading.Event(), datetime.now() + timedelta(seconds=20)
        while self.site.state.webhooks.pending:
            assert datetime.now() < deadline
            pause.wait(0.02)
        pause.wait(0.1)
        while self.worker.run_once():
            pass

    def close(self) -> None:
        self.server.shutdown()
        self.store.dispose()


def agent_edit(site, key: str, fields: dict) -> None:
    requests.put(site.api(f"issue/{key}"), json={"fields": fields}, auth=(AGENT, "t")).raise_for_status()


def outcome(site, key: str) -> tuple:
    issue = site.issue(key)
    firings = [f["rule"] for f in (issue.get("properties", {}).get("jsm-autopilot") or {}).get("firings", [])]
    public = [adf_to_text(c["body"]) for c in site.comments_by_bot(key, public=True)]
    return issue["fields"]["status"]["name"], firings, public


@pytest.fixture
def german_ticket(site_factory):
    def make():
        site = site_factory(T0 - timedelta(days=1))
        org = requests.post(f"{site.url}/rest/servicedeskapi/organization", json={"name": "Muster AG"}, auth=(AGENT, "t")).json()["id"]
        key = site.create(reporter="max@muster.example", issue_type="Request", **{site.settings.fields.organizations: [int(org)]})
        site.move(key, "In Progress")
        site.set_clock(T0)
        return site, key
    return make


def test_consulting_through_a_sweep(german_ticket):
    site, key = german_ticket()
    agent_edit(site, key, {"issuetype": {"name": "Consulting Request"}})
    site.set_clock(T0 + timedelta(minutes=1))
    assert sweep_once(site.client(), site.settings).firings_applied == 0, "still within the grace period"
    site.set_clock(T0 + timedelta(minutes=3))
    sweep_once(site.client(), site.settings)
    sweep_once(site.client(), site.settings)
    status, firings, public = outcome(site, key)
    assert firings == ["reclassify.consulting"] and len(public) == 1
    assert public[0].startswith("Sehr geehrte Kundin")


def test_consulting_through_a_webhook_gives_the_same_result(german_ticket, tmp_path):
    swept_site, swept_key = german_ticket()
    agent_edit(swept_site, swept_key, {"issuetype": {"name": "Consulting Request"}})
    swept_site.set_clock(T0 + timedelta(minutes=3))
    sweep_once(swept_site.client(), swept_site.settings)

    site, key = german_ticket()
    path = WebhookPath(site, tmp_path)
    try:
        agent_edit(site, key, {"issuetype": {"name": "Consulting Request"}})
        path.drain()  # the worker saw the change at once: nothing yet, look again after the grace period
        assert outcome(site, key)[1] == []
        assert path.store.list_events()[0].status == "pending"
        site.set_clock(T0 + timedelta(minutes=3))
        path.clock["now"] = LOCAL + timedelta(minutes=3)
        path.drain()
        sweep_once(site.client(), site.settings)  # a sweep afterwards finds nothing left to do
        assert outcome(site, key) == outcome(swept_site, swept_key)
    finally:
        path.close()


def test_a_reclassification_undone_within_a_minute_leaves_the_customer_nothing(german_ticket, tmp_path):
    site, key = german_ticket()
    path = WebhookPath(site, tmp_path)
    try:
        agent_edit(site, key, {"issuetype": {"name": "Suggestion"}})
        path.drain()
        site.set_clock(T0 + timedelta(seconds=40))
        agent_edit(site, key, {"issuetype": {"name": "Request"}})
        path.drain()
        site.set_clock(T0 + timedelta(minutes=5))
        path.clock["now"] = LOCAL + timedelta(minutes=5)
        path.drain()
        sweep_once(site.client(), site.settings)
        status, firings, public = outcome(site, key)
        assert (status, firings, public) == ("In Progress", [], [])
    finally:
        path.close()


def test_accept_and_priority_through_webhooks(site_factory, tmp_path):
    site = site_factory(T0)
    path = WebhookPath(site, tmp_path)
    try:
        key = site.create()
        site.comment(key, "We are looking into it.", by=AGENT)
        agent_edit(site, key, {"issuetype": {"name": "Software Defect"}, "priority": {"name": "P1"}})
        path.drain()
        issue = requests.get(site.api(f"issue/{key}"), params={"fields": f"status,priority,{site.settings.fields.accepted_at}",
                                                                "properties": "jsm-autopilot"}, auth=(AGENT, "t")).json()
        assert issue["fields"]["status"]["name"] == "In Review by Service Desk"
        assert issue["fields"][site.settings.fields.accepted_at] is not None
        assert issue["fields"]["priority"]["name"] == "P2"
        assert sorted(f["rule"] for f in issue["properties"]["jsm-autopilot"]["firings"]) == ["intake.accept", "reclassify.priority"]
        before = len(site.requests_made())
        assert sweep_once(site.client(), site.settings).firings_applied == 0
        assert all(r["method"] == "GET" or r["path"].endswith("/search/jql") for r in site.requests_made()[before:])
    finally:
        path.close()


def test_an_email_ticket_becomes_a_request_through_a_sweep_and_through_a_webhook(site_factory, tmp_path):
    results = []
    for path_kind in ("sweep", "webhook"):
        site = site_factory(T0)
        # A site whose scheme gives incidents and requests one workflow: there an edit may retype.
        site.state.workflow.workflow_of["Incident"] = site.state.workflow.workflow_of["Request"]
        seed = {"issues": [{"type": "Incident", "summary": "Mail from customer", "reporter": "claire@acme.example",
                            "created": (T0 - timedelta(hours=1)).isoformat(), "channel": "email"},
                           {"type": "Incident", "summary": "Portal ticket", "reporter": "claire@acme.example",
                            "created": (T0 - timedelta(hours=1)).isoformat()}]}
        mailed, portal = requests.post(f"{site.url}/_sandbox/seed", json=seed).json()["issues"]
        if path_kind == "sweep":
            sweep_once(site.client(), site.settings)
        else:
            (tmp_path / path_kind).mkdir()
            path = WebhookPath(site, tmp_path / path_kind)
            try:
                site.comment(mailed, "internal look", by=AGENT)  # any change: Jira sends a webhook
                path.drain()
            finally:
                path.close()
        types = {key: requests.get(site.api(f"issue/{key}"), params={"fields": "issuetype"}, auth=(AGENT, "t")).json()["fields"]["issuetype"]["name"]
                 for key in (mailed, portal)}
        results.append(types[mailed])
        assert types[portal] == "Incident"
    assert results == ["Request", "Request"]


@pytest.mark.parametrize("path_kind", ["sweep", "webhook"])
def test_suggestion_and_confidential_through_each_path(german_ticket, tmp_path, path_kind):
    site, key = german_ticket()
    path = WebhookPath(site, tmp_path) if path_kind == "webhook" else None
    try:
        agent_edit(site, key, {"issuetype": {"name": "Suggestion"}, site.settings.fields.confidential: "Ja"})
        if path:
            path.drain()
        site.set_clock(T0 + timedelta(minutes=3))
        if path:
            path.clock["now"] = LOCAL + timedelta(minutes=3)
            path.drain()
        else:
            sweep_once(site.client(), site.settings)
        sweep_once(site.client(), site.settings)  # and a sweep afterwards adds nothing
        status, firings, public = outcome(site, key)
        assert status == "Resolved"
        assert sorted(firings) == ["reclassify.confidential", "reclassify.suggestion"]
        assert len(public) == 1 and "Produktmanagement" in public[0]
        security = requests.get(site.api(f"issue/{key}"), params={"fields": "security"}, auth=(AGENT, "t")).json()["fields"]["security"]
        assert security["id"] == "10100"  # Muster AG's region, emea
    finally:
        if path:
            path.close()


def test_accept_and_priority_through_a_sweep(site_factory):
    site = site_factory(T0)
    key = site.create()
    site.comment(key, "We are looking into it.", by=AGENT)
    agent_edit(site, key, {"issuetype": {"name": "Software Defect"}, "priority": {"name": "P1"}})
    sweep_once(site.client(), site.settings)
    assert sweep_once(site.client(), site.settings).firings_applied == 0
    issue = requests.get(site.api(f"issue/{key}"), params={"fields": "status,priority", "properties": "jsm-autopilot"}, auth=(AGENT, "t")).json()
    assert (issue["fields"]["status"]["name"], issue["fields"]["priority"]["name"]) == ("In Review by Service Desk", "P2")
    assert sorted(f["rule"] for f in issue["properties"]["jsm-autopilot"]["firings"]) == ["intake.accept", "reclassify.priority"]


@pytest.mark.parametrize("path_kind", ["sweep", "webhook"])
def test_triage_suggests_once_through_each_path(site_factory, tmp_path, path_kind):
    site = site_factory(T0)
    path = WebhookPath(site, tmp_path) if path_kind == "webhook" else None
    try:
        key = site.create(summary="Benutzerimport stürzt ab", description=site.body("Beim Hochladen kommen Abstürze und Fehlermeldungen."))
        if path:
            path.drain()
        sweep_once(site.client(), site.settings)
        notes = [adf_to_text(c["body"]) for c in site.comments_by_bot(key, public=False)]
        assert len(notes) == 1 and notes[0].startswith("jsm-autopilot · triage.suggest: the ticket reads like a Software Defect")
        assert site.comments_by_bot(key, public=True) == []
    finally:
        if path:
            path.close()


def test_a_type_change_jira_refuses_leaves_one_note_for_agents_and_is_not_tried_again(site_factory):
    """On JSM's own templates Incident and Request use different workflows; Jira refuses the edit
    (open-cli-collective/atlassian-cli#149: "The issue type selected is invalid")."""
    site = site_factory(T0)
    seed = {"issues": [{"type": "Incident", "summary": "Mail from customer", "reporter": "claire@acme.example",
                        "created": (T0 - timedelta(hours=1)).isoformat(), "channel": "email"}]}
    (mailed,) = requests.post(f"{site.url}/_sandbox/seed", json=seed).json()["issues"]
    refused = requests.put(site.api(f"issue/{mailed}"), json={"fields": {"issuetype": {"name": "Request"}}}, auth=(AGENT, "t"))
    assert refused.status_code == 400 and refused.json()["errors"] == {"issuetype": "The issue type selected is invalid."}
    first = sweep_once(site.client(), site.settings)
    assert len(first.failures) == 1 and "intake.email_request" in first.failures[0]
    for _ in range(2):
        again = sweep_once(site.client(), site.settings)
        assert again.failures == [] and again.firings_planned == 0
    notes = [adf_to_text(c["body"]) for c in site.comments_by_bot(mailed, public=False)]
    assert len(notes) == 1 and "intake.email_request" in notes[0] and "by hand" in notes[0]
    assert site.comments_by_bot(mailed, public=True) == []
    assert site.state.issue(mailed).issue_type == "Incident"


def test_a_data_center_comment_event_without_an_issue_is_worked_by_the_issue_id(site_factory, tmp_path):
    """Data Center's comment_created carries only the comment; its `self` names the issue by id
    (mattermost-plugin-jira's recorded Server payloads, its PR #118). It is stored under that id,
    handled, and the worker finds the key and project in Jira."""
    site = site_factory(T0, deployment="datacenter")
    path = WebhookPath(site, tmp_path)
    try:
        key = site.create()
        path.drain()
        issue_id = str(site.state.issue(key).id)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {site.personal_access_token(AGENT)}"
        session.post(site.api(f"issue/{key}/comment"), json={"body": "We are looking into it."}).raise_for_status()
        path.drain()
        stored = {(e.event, e.issue): e.status for e in path.store.list_events(limit=20)}
        assert stored[("comment_created", issue_id)] == "done"
        assert site.state.issue(key).status == "In Review by Service Desk"
    finally:
        path.close()
