"""Exactly once when Jira's answer is lost: the executor asks Jira before sending again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.sweep import sweep_once

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


@pytest.mark.parametrize("applied", [True, False], ids=["applied-answer-lost", "never-arrived"])
def test_a_reminder_whose_answer_is_lost_goes_out_exactly_once(site_factory, applied):
    site, key, middleware = waiting_site(site_factory, "PUT", f"/issue/{'SD-1'}", applied)
    report = sweep_once(site.client(), site.settings)
    assert middleware.tripped
    assert not report.failures
    public = site.comments_by_bot(key, public=True)
    assert len(public) == 1
    assert [f["rule"] for f in site.issue(key)["properties"]["jsm-autopilot"]["firings"]] == ["clarification.reminder"]
    # And the next sweep at the same moment adds nothing.
    sweep_once(site.client(), site.settings)
    assert len(site.comments_by_bot(key, public=True)) == 1


@pytest.mark.parametrize("applied", [True, False], ids=["applied-answer-lost", "never-arrived"])
def test_an_internal_note_whose_answer_is_lost_is_posted_once(site_factory, applied):
    site, key, middleware = waiting_site(site_factory, "POST", "/SD-1/comment", applied)
    report = sweep_once(site.client(), site.settings)
    assert middleware.tripped and not report.failures
    assert len(site.comments_by_bot(key, public=False)) == 1
