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
