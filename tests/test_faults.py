"""Issue 15: the service under faults. Each test reproduces one defect found by attacking it."""

from __future__ import annotations

import threading
from datetime import timedelta

import requests

from connector.sweep import sweep_once
from tests.conftest import berlin

T0 = berlin(2026, 1, 5, 10, 0)


def waiting_ticket_due_a_reminder(site) -> str:
    key = site.create()
    site.move(key, "Clarification required / On hold")
    site.set_clock(T0 + timedelta(days=10, minutes=1))
    return key


def until_late_writes_land(site):
    """The client's pause: meanwhile Jira finishes applying the writes it took too long for."""
    def pause(seconds: float) -> None:
        idle = threading.Event()
        while requests.get(f"{site.url}/_sandbox/late").json()["pending"]:
            idle.wait(0.02)
    return pause


def test_a_write_that_times_out_and_lands_late_is_not_sent_twice(site_factory):
    """A gateway timeout that Jira still applies a moment later: the executor looks again over a
    window before resending, so the customer gets one reminder, and agents one note (recognised
    by the firing id on the comment)."""
    site = site_factory(T0)
    key = waiting_ticket_due_a_reminder(site)
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0, "late_writes": {"count": 2, "delay": 1.5}}).raise_for_status()
    client = site.client(sleep=until_late_writes_land(site), timeout=1)
    report = sweep_once(client, site.settings)
    until_late_writes_land(site)(0)  # whatever was sent has landed by now
    assert report.failures == [] and report.by_rule["clarification.reminder"] == 1
    assert len(site.comments_by_bot(key, public=True)) == 1
    notes = site.comments_by_bot(key, public=False)
    assert len(notes) == 1
    assert {p["key"] for p in notes[0]["properties"]} >= {"sd.public.comment", "jsm-autopilot.firing"}
    assert requests.get(f"{site.url}/_sandbox/late").json() == {"waiting": 0, "pending": 0}


def test_a_busy_ticket_never_makes_an_event_a_dead_letter(site_factory, tmp_path):
    """Another process holds the ticket (or died holding it): the event waits, uncounted, however
    often it is tried; once the hold is gone it is handled."""
    from datetime import datetime, timezone

    from connector.executor import Executor
    from service.guard import TicketGuard
    from webhooks.store import EventStore
    from webhooks.worker import Worker

    site = site_factory(T0)
    key = waiting_ticket_due_a_reminder(site)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    clock = {"now": datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)}
    store.take_lease(f"ticket:{key}", "other-host-77/1", clock["now"], timedelta(hours=1))
    client = site.client()
    guard = TicketGuard(store, "this-host-1", clock=lambda: clock["now"], wait=timedelta(0))
    worker = Worker(store, client, site.settings, Executor(client, site.settings), clock=lambda: clock["now"], max_attempts=3, guard=guard)
    store.add("e1", "comment_created", key, b'{"webhookEvent": "comment_created"}', True, clock["now"])
    for _ in range(10):
        clock["now"] += timedelta(minutes=2)
        worker.run_once()
    [event] = store.list_events()
    assert event.status == "pending" and event.attempts == 0 and "being handled elsewhere" in event.error
    clock["now"] += timedelta(hours=1)  # the other holder's lease runs out
    worker.run_once()
    assert store.list_events()[0].status == "done"
    assert len(site.comments_by_bot(key, public=True)) == 1
    store.dispose()


def test_a_restart_gives_back_what_a_killed_process_of_this_host_held(site_factory, tmp_path):
    """Events, the sweep lease and ticket holds of a dead pid (and of our own pid's previous life,
    as in a container where every start is pid 1) are released at start; other hosts' are not."""
    import os
    import socket
    from datetime import datetime, timezone

    from service.serve import Service
    from webhooks.store import EventStore

    site = site_factory(T0)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    now = datetime.now(timezone.utc)
    host, dead = socket.gethostname(), 2 ** 22 + 7  # above the kernel's pid limit: never alive
    service = Service(site.settings, store, site.client(), b"secret")
    store.take_lease(service.sweep_lease, f"{host}-{dead}", now, timedelta(minutes=30))
    store.take_lease("ticket:SD-1", f"{host}-{dead}/140", now, timedelta(minutes=30))
    store.take_lease("ticket:SD-2", f"{host}-{os.getpid()}/99", now, timedelta(minutes=30))
    store.take_lease("ticket:SD-3", "elsewhere-12/5", now, timedelta(minutes=30))
    store.add("e1", "comment_created", "SD-1", b"{}", True, now)
    assert store.claim(f"{host}-{dead}-1", now, timedelta(minutes=5)) is not None
    assert service.release_events_of_dead_processes() == 4
    assert store.lease_holders() == {"elsewhere-12/5"}
    assert store.list_events()[0].status == "pending"
    assert store.take_lease(service.sweep_lease, service.holder, now, timedelta(minutes=2))
    store.dispose()


def test_no_key_steers_a_request_to_another_ticket(site_factory, tmp_path):
    """An event stored by an older version with the key `SD-1/../SD-2`: the connector refuses to
    build that URL, so nothing is written to SD-2 while SD-1 is held."""
    from datetime import datetime, timezone

    from connector.executor import Executor
    from webhooks.store import EventStore
    from webhooks.worker import Worker

    site = site_factory(T0)
    waiting_ticket_due_a_reminder(site)
    other = waiting_ticket_due_a_reminder(site)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    store.add("e1", "comment_created", f"SD-1/../{other}", b"{}", True, now)
    client = site.client()
    Worker(store, client, site.settings, Executor(client, site.settings), clock=lambda: now).run_once()
    [event] = store.list_events()
    assert event.status == "failed" and "not sent" in event.error
    assert site.comments_by_bot(other) == []
    store.dispose()
