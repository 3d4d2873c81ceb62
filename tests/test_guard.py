"""Sweeps and workers (on any replica) overlapping on one ticket still act once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from jsm_autopilot.connector.executor import Executor
from jsm_autopilot.connector.holds import NoGuard
from jsm_autopilot.connector.sweep import sweep_once
from jsm_autopilot.errors import TicketBusy
from jsm_autopilot.service.guard import TicketGuard
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.webhooks.worker import Worker

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


class WorkerStrikesDuringSearch:
    """A client whose search, right after reading a page, lets a webhook worker act first."""

    def __init__(self, client, worker):
        self._client, self._worker = client, worker

    def __getattr__(self, name):
        return getattr(self._client, name)

    def search(self, *args, **kwargs):
        for issue in self._client.search(*args, **kwargs):
            self._worker.run_once()
            yield issue


def race(site_factory, tmp_path, guard_for):
    site = site_factory(T0 - timedelta(days=1))
    key = site.create()
    site.set_clock(T0)
    site.move(key, "Clarification required / On hold")
    site.set_clock(T0 + timedelta(days=10))
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    store.add("e1", "comment_created", key, json.dumps({"issue": {"key": key}}).encode(), True, datetime.now(timezone.utc))
    client = site.client()
    executor = Executor(client, site.settings)
    worker = Worker(store, client, site.settings, executor, guard=guard_for(store, "worker"))
    sweep_once(WorkerStrikesDuringSearch(client, worker), site.settings, executor=executor, guard=guard_for(store, "sweeper"))
    return site, key


def test_a_sweep_rereads_a_ticket_a_worker_wrote_to_after_its_search(site_factory, tmp_path):
    site, key = race(site_factory, tmp_path, lambda store, name: TicketGuard(store, name))
    assert len(site.comments_by_bot(key, public=True)) == 1


def test_without_the_guard_the_same_race_sends_two_reminders(site_factory, tmp_path):
    # The failure the guard prevents, shown: Jira itself has no compare-and-set.
    site, key = race(site_factory, tmp_path, lambda store, name: NoGuard())
    assert len(site.comments_by_bot(key, public=True)) == 2


def test_a_ticket_held_elsewhere_is_waited_for_then_given_up(store):
    now = {"t": T0}
    one = TicketGuard(store, "replica-a", clock=lambda: now["t"])
    other = TicketGuard(store, "replica-b", clock=lambda: now["t"], wait=timedelta(0))
    with one.hold("SD-1") as held:
        with pytest.raises(TicketBusy):
            with other.hold("SD-1"):
                pass
        held.wrote(T0)
    with other.hold("SD-1") as later:
        assert later.changed_since(T0 - timedelta(seconds=1))


def test_a_hold_of_a_dead_replica_expires(store):
    now = {"t": T0}
    TicketGuard(store, "dead", clock=lambda: now["t"]).store.take_lease("ticket:SD-1", "dead", T0, timedelta(minutes=2))
    now["t"] = T0 + timedelta(minutes=3)
    with TicketGuard(store, "alive", clock=lambda: now["t"], wait=timedelta(0)).hold("SD-1"):
        pass


def test_two_threads_of_one_process_sharing_the_guard_exclude_each_other(store):
    # `serve` gives its sweep and its workers one guard: the lease must still tell them apart.
    import threading

    now = {"t": T0}
    shared = TicketGuard(store, "host-1", clock=lambda: now["t"], wait=timedelta(0))
    refused: list[Exception] = []

    def other_thread():
        try:
            with shared.hold("SD-1"):
                pass
        except TicketBusy as busy:
            refused.append(busy)

    with shared.hold("SD-1"):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(refused) == 1
    other_thread()
    assert len(refused) == 1  # once released, the other thread gets it
