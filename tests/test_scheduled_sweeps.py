"""Sweeps inside `serve`: on a schedule, one at a time, one replica at a time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jsm_autopilot.service.serve import Service
from tests.site import site_with_due_reminder

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def replica(site, store, name: str) -> Service:
    service = Service(site.settings, store, site.client(), b"secret")
    service.holder = name
    service.guard.holder = name
    return service


def test_a_scheduled_sweep_applies_what_is_due_once(site_factory, store):
    site, key = site_with_due_reminder(site_factory, T0)
    service = replica(site, store, "replica-a")
    assert service.scheduled_sweep().firings_applied == 1
    assert service.scheduled_sweep().firings_applied == 0
    assert len(site.comments_by_bot(key, public=True)) == 1


def test_only_the_replica_holding_the_lease_sweeps(site_factory, store):
    site, key = site_with_due_reminder(site_factory, T0)
    a, b = replica(site, store, "replica-a"), replica(site, store, "replica-b")
    assert store.take_lease(a.sweep_lease, "replica-a", datetime.now(timezone.utc), timedelta(minutes=30))
    assert b.scheduled_sweep() is None
    assert site.comments_by_bot(key) == []


def test_the_lease_of_a_dead_replica_is_taken_over(site_factory, store):
    site, key = site_with_due_reminder(site_factory, T0)
    b = replica(site, store, "replica-b")
    # replica-a took the lease long ago and died without dropping it
    store.take_lease(b.sweep_lease, "replica-a", datetime.now(timezone.utc) - timedelta(hours=1), timedelta(minutes=30))
    assert b.scheduled_sweep().firings_applied == 1


def test_the_schedule_comes_from_app_yaml_and_never_overlaps(site_factory, store):
    site, _ = site_with_due_reminder(site_factory, T0)
    scheduler = replica(site, store, "replica-a").scheduler()
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"sweep", "full-pass"}
    assert jobs["sweep"].trigger.interval == timedelta(minutes=15)
    assert str(jobs["full-pass"].trigger) == "cron[hour='3', minute='0']"
    assert str(jobs["full-pass"].trigger.timezone) == "Europe/Berlin"
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
