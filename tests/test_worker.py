"""The worker: a stored event means "this ticket changed"; it re-reads Jira and acts once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from jsm_autopilot.connector.executor import Executor
from jsm_autopilot.webhooks.worker import Worker

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
LOCAL = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)  # the service's own clock, for the store


@pytest.fixture
def setup(site_factory, tmp_path):
    from jsm_autopilot.store.event_store import EventStore

    site = site_factory(T0 - timedelta(days=1))
    key = site.create()
    site.set_clock(T0)
    site.move(key, "Clarification required / On hold")
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    client = site.client()
    clock = {"now": LOCAL}
    worker = Worker(store, client, site.settings, Executor(client, site.settings), clock=lambda: clock["now"], max_attempts=3)
    return site, key, store, worker, clock


def event_for(store, key: str, identifier: str, at: datetime = LOCAL) -> None:
    body = json.dumps({"webhookEvent": "comment_created", "issue": {"key": key}}).encode()
    store.add(identifier, "comment_created", key, body, True, at)


def test_an_event_applies_what_is_due_once_however_often_it_comes(setup):
    site, key, store, worker, _ = setup
    site.set_clock(T0 + timedelta(days=10))
    for n in range(3):  # a delivery, a late duplicate under another id, an out-of-order one
        event_for(store, key, f"e{n}")
    while worker.run_once():
        pass
    assert len(site.comments_by_bot(key, public=True)) == 1
    assert {e.status for e in store.list_events()} == {"done"}


def test_a_customer_reply_event_restarts_the_clock(setup):
    site, key, store, worker, _ = setup
    site.set_clock(T0 + timedelta(days=10))
    event_for(store, key, "reminder-due")
    worker.run_once()
    site.set_clock(T0 + timedelta(days=11))
    site.comment(key, "Here is the log file.")
    event_for(store, key, "customer-replied")
    worker.run_once()
    rules = [f["rule"] for f in site.issue(key)["properties"]["jsm-autopilot"]["firings"]]
    assert rules == ["clarification.reminder", "clarification.reset"]


def test_a_deleted_ticket_ends_its_event(setup):
    _, _, store, worker, _ = setup
    event_for(store, "SD-999", "gone")
    worker.run_once()
    assert store.list_events()[0].status == "done"


def test_while_jira_is_down_events_wait_then_become_dead_letters_then_replay(setup):
    site, key, store, worker, clock = setup
    site.set_clock(T0 + timedelta(days=10))
    event_for(store, key, "e1")
    site.faults(1.0, [503])
    worker.client.max_attempts = 1  # no retries inside the call: the event's own back-off is under test
    worker.run_once()
    waiting = store.list_events()[0]
    assert waiting.status == "pending" and "503" in waiting.error
    assert worker.run_once() is False  # backing off
    for _ in range(2):
        clock["now"] += timedelta(hours=1)
        worker.run_once()
    failed = store.list_events(failed_only=True)
    assert len(failed) == 1 and "503" in failed[0].error
    site.faults(0)
    assert store.replay(clock["now"], failed=True) == 1
    worker.run_once()
    assert store.list_events()[0].status == "done"
    assert len(site.comments_by_bot(key, public=True)) == 1


def test_a_confirming_customer_comment_closes_the_resolved_ticket_through_the_event(setup):
    site, key, store, worker, _ = setup
    site.move(key, "Resolved")
    site.set_clock(T0 + timedelta(days=2))
    site.comment(key, "Thanks, it works now. The ticket can be closed.")
    event_for(store, key, "comment-created")
    worker.run_once()
    assert site.issue(key)["fields"]["status"]["name"] == "Closed"
    assert [f["rule"] for f in site.issue(key)["properties"]["jsm-autopilot"]["firings"]] == ["resolved.confirm"]
