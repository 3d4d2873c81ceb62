"""Exactly once when Jira's answer is lost: the executor asks Jira before sending again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jsm_autopilot.connector.sweep import sweep_once

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


class LoseAnswers:
    """WSGI middleware: the first matching write gets a 502, either after Jira applied it
    (the answer was lost on the way back) or before (it never arrived)."""

    def __init__(self, app, method: str, path_end: str, applied: bool):
        self.app, self.method, self.path_end, self.applied = app, method, path_end, applied
        self.tripped = False

    def __call__(self, environ, start_response):
        matches = environ["REQUEST_METHOD"] == self.method and environ["PATH_INFO"].endswith(self.path_end)
        if not matches or self.tripped:
            return self.app(environ, start_response)
        self.tripped = True
        if self.applied:
            body = self.app(environ, lambda *args, **kwargs: None)
            b"".join(body)
        start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
        return [b"bad gateway"]


def waiting_site(site_factory, method: str, path_end: str, applied: bool):
    holder = {}

    def wrap(app):
        holder["middleware"] = LoseAnswers(app, method, path_end, applied)
        return holder["middleware"]

    site = site_factory(T0 - timedelta(days=1), wrap=wrap)
    key = site.create()
    site.set_clock(T0)
    site.move(key, "Clarification required / On hold")
    holder["middleware"].tripped = False  # the setup's own writes do not count
    site.set_clock(T0 + timedelta(days=10))
    return site, key, holder["middleware"]


def test_a_reminder_whose_answer_is_lost_after_jira_applied_it_goes_out_exactly_once(site_factory):
    site, key, middleware = waiting_site(site_factory, "PUT", f"/issue/{'SD-1'}", applied=True)
    report = sweep_once(site.client(), site.settings)
    assert middleware.tripped
    assert not report.failures and not report.uncertain  # the first look found it in the firing log
    assert len(site.comments_by_bot(key, public=True)) == 1
    assert [f["rule"] for f in site.issue(key)["properties"]["jsm-autopilot"]["firings"]] == ["clarification.reminder"]
    # And the next sweep at the same moment adds nothing.
    sweep_once(site.client(), site.settings)
    assert len(site.comments_by_bot(key, public=True)) == 1


def test_a_reminder_that_never_arrived_is_uncertain_until_it_settles_then_sent_once(site_factory):
    """Issue 37: a write without an answer is never resent blindly. Until limits.uncertain_settle
    (10 min) has passed on the service's clock, sweeps leave the rule alone; then the ticket, read
    again, lacks it, and the rule fires anew: one comment in all."""
    from jsm_autopilot.connector.executor import Executor

    site, key, middleware = waiting_site(site_factory, "PUT", f"/issue/{'SD-1'}", applied=False)
    wall = [datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)]
    client = site.client()
    executor = Executor(client, site.settings, wall_clock=lambda: wall[0])
    report = sweep_once(client, site.settings, executor=executor)
    assert middleware.tripped and not report.failures
    [uncertain] = report.uncertain
    assert uncertain.startswith(f"{key} clarification.reminder: ") and "not sent again before 10m" in uncertain
    assert site.comments_by_bot(key, public=True) == []
    wall[0] += timedelta(minutes=9, seconds=59)
    report = sweep_once(client, site.settings, executor=executor)
    assert report.firings_applied == 0 and len(report.uncertain) == 1 and "not sent again before 12:10:00 UTC" in report.uncertain[0]
    assert site.comments_by_bot(key, public=True) == []
    wall[0] += timedelta(seconds=1)
    report = sweep_once(client, site.settings, executor=executor)
    assert report.by_rule == {"clarification.reminder": 1} and report.uncertain == []
    assert len(site.comments_by_bot(key, public=True)) == 1
    assert executor.uncertain.open() == []
    sweep_once(client, site.settings, executor=executor)
    assert len(site.comments_by_bot(key, public=True)) == 1


@pytest.mark.parametrize("applied", [True, False], ids=["applied-answer-lost", "never-arrived"])
def test_an_internal_note_whose_answer_is_lost_is_posted_once(site_factory, applied):
    site, key, middleware = waiting_site(site_factory, "POST", "/SD-1/comment", applied)
    report = sweep_once(site.client(), site.settings)
    assert middleware.tripped and not report.failures
    assert len(site.comments_by_bot(key, public=False)) == 1


@pytest.mark.parametrize("late", [timedelta(seconds=35), timedelta(seconds=50), timedelta(minutes=2), timedelta(minutes=10)],
                         ids=["35s", "50s", "2min", "10min"])
def test_a_reminder_jira_applies_minutes_after_the_client_gave_up_reaches_the_customer_once(site_factory, late):
    """Issue 37: Jira applied a comment about 50 s after the client's timeout, and the executor,
    having looked for 15 s only, sent it again. The sandbox holds the write until the test lets it
    land (`late_writes` with `hold`); the service's clock is injected, so minutes pass at once."""
    import requests

    from jsm_autopilot.connector.executor import Executor

    site, key, _ = waiting_site(site_factory, "GET", "/never-matches", applied=False)
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0, "late_writes": {"count": 1, "hold": True}}).raise_for_status()
    sent = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    wall = [sent]
    client = site.client(timeout=1, sleep=lambda seconds: None)
    executor = Executor(client, site.settings, wall_clock=lambda: wall[0])
    assert len(sweep_once(client, site.settings, executor=executor).uncertain) == 1
    # Sweeps every minute until the write lands: none sends it again.
    while wall[0] + timedelta(minutes=1) < sent + late:
        wall[0] += timedelta(minutes=1)
        assert sweep_once(client, site.settings, executor=executor).firings_applied == 0
    wall[0] = sent + late
    requests.post(f"{site.url}/_sandbox/late/release").raise_for_status()
    landed = datetime.now()
    while requests.get(f"{site.url}/_sandbox/late").json()["pending"]:
        assert (datetime.now() - landed).total_seconds() < 10, "the held write did not land"
    wall[0] = max(wall[0], sent + site.settings.limits.uncertain_settle.nominal)
    report = sweep_once(client, site.settings, executor=executor)
    assert report.firings_applied == 0 and report.uncertain == []
    assert executor.uncertain.open() == []
    assert len(site.comments_by_bot(key, public=True)) == 1
    wall[0] += timedelta(hours=1)
    sweep_once(client, site.settings, executor=executor)
    assert len(site.comments_by_bot(key, public=True)) == 1
