"""The sandbox sends signed, Jira-shaped webhooks that the real receiver accepts."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import requests
from werkzeug.serving import make_server

from jsm_autopilot.connector.mapping import ticket_from_webhook
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.webhooks.receiver import create_receiver

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def wait_for(predicate, what: str, timeout: float = 20) -> None:
    pause, deadline = threading.Event(), datetime.now() + timedelta(seconds=timeout)
    while not predicate():
        assert datetime.now() < deadline, f"timed out waiting for {what}"
        pause.wait(0.05)


def test_changes_in_the_sandbox_arrive_as_signed_webhooks(site_factory, tmp_path):
    site = site_factory(T0)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    receiver = make_server("127.0.0.1", 0, create_receiver(store, site.settings.project.key, b"hook-secret", 2**20), threaded=True)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        answer = requests.post(f"{site.url}/_sandbox/webhooks", json={"url": f"http://127.0.0.1:{receiver.server_port}/webhooks/jira", "secret": "hook-secret"})
        assert answer.status_code == 200
        key = site.create()
        site.move(key, "Clarification required / On hold")
        site.comment(key, "Here is the log file.")
        wait_for(lambda: len(store.list_events()) == 3, "three deliveries")
        events = {e.event: e for e in store.list_events()}
        assert set(events) == {"jira:issue_created", "jira:issue_updated", "comment_created"}
        assert all(e.status == "pending" for e in events.values()), "signature accepted and project matched"
        updated = json.loads(events["jira:issue_updated"].body)
        assert [i["field"] for i in updated["changelog"]["items"]] == ["status"]
        ticket = ticket_from_webhook(json.loads(events["comment_created"].body), site.settings)
        assert ticket.key == key and ticket.comments[0].body == "Here is the log file."
        assert requests.get(f"{site.url}/_sandbox/webhooks").json()["failed"] == 0
    finally:
        receiver.shutdown()
        store.dispose()
