"""reclassify.suggestion with a product-management project: one linked issue, also across retries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests
import yaml

from jsm_autopilot.config.loader import settings_from_mapping
from jsm_autopilot.connector.sweep import sweep_once
from jsm_autopilot.rules.actions import LinkedIssue
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.sandbox import new_state, start_sandbox
from tests.conftest import ROOT, settings_for_site
from tests.site import AGENT, Site

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def pm_settings():
    data = yaml.safe_load((ROOT / "app.yaml").read_text(encoding="utf-8"))
    data["reclassification"]["product_management"] = {"project": "PM", "issue_type": "Idea", "link_type": "Relates"}
    return settings_for_site(settings_from_mapping(data, base_directory=ROOT))


class FailTransitions:
    """The first `times` transitions fail with 502 before Jira applies anything."""

    def __init__(self, app, times: int):
        self.app, self.left = app, times

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/transitions") and self.left:
            self.left -= 1
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
            return [b"bad gateway"]
        return self.app(environ, start_response)


def reclassified_site(wrap=None):
    settings = pm_settings()
    running = start_sandbox(new_state(settings, "cloud", T0 - timedelta(days=1)), wrap=wrap)
    site = Site(running, settings)
    key = site.create(issue_type="Request", summary="Please add dark mode, my name is Jane Doe")
    site.move(key, "In Progress")
    site.set_clock(T0)
    requests.put(site.api(f"issue/{key}"), json={"fields": {"issuetype": {"name": "Suggestion"}}}, auth=(AGENT, "t")).raise_for_status()
    site.set_clock(T0 + timedelta(minutes=3))
    return site, key


def pm_issues(site) -> list[dict]:
    found = requests.post(f"{site.url}/rest/api/3/search/jql", json={"jql": 'project = "PM"', "fields": ["summary", "issuelinks"]},
                          auth=(AGENT, "t")).json()["issues"]
    return found


def test_the_rule_names_the_ticket_but_quotes_none_of_its_text():
    settings = pm_settings()
    from jsm_autopilot.rules.model import Ticket

    ticket = Ticket(key="SD-5", type="Suggestion", status="In Progress", status_since=T0, created=T0 - timedelta(days=1),
                    type_since=T0, summary="my name is Jane Doe")
    linked = [a for a in evaluate(ticket, T0 + timedelta(minutes=3), settings) if isinstance(a, LinkedIssue)]
    assert linked == [LinkedIssue("SD-5", "reclassify.suggestion", linked[0].reason, project="PM", issue_type="Idea",
                                  summary="Suggestion from SD-5", link_type="Relates")]


def test_a_suggestion_gets_one_linked_issue_in_product_management():
    site, key = reclassified_site()
    try:
        report = sweep_once(site.client(), site.settings)
        assert report.firings_applied == 1
        filed = pm_issues(site)
        assert [i["fields"]["summary"] for i in filed] == [f"Suggestion from {key}"]
        assert filed[0]["fields"]["issuelinks"][0]["outwardIssue"]["key"] == key
        assert site.issue(key)["fields"]["status"]["name"] == "Resolved"
        assert sweep_once(site.client(), site.settings).firings_applied == 0
        assert len(pm_issues(site)) == 1
    finally:
        site.running.stop()


def test_a_firing_that_failed_after_filing_does_not_file_twice():
    holder = {}

    def wrap(app):
        holder["failing"] = FailTransitions(app, times=0)
        return holder["failing"]

    from jsm_autopilot.connector.executor import Executor

    site, key = reclassified_site(wrap)
    holder["failing"].left = 1  # armed after setup: the transition gets no answer
    wall = [datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)]
    client = site.client()
    executor = Executor(client, site.settings, wall_clock=lambda: wall[0])
    try:
        first = sweep_once(client, site.settings, executor=executor)
        assert first.uncertain and len(pm_issues(site)) == 1  # filed and linked, then the transition got no answer
        wall[0] += site.settings.limits.uncertain_settle.nominal  # not sent again before it has settled
        second = sweep_once(client, site.settings, executor=executor)
        assert second.firings_applied == 1 and not second.failures
        filed = pm_issues(site)
        assert len(filed) == 1 and len(filed[0]["fields"]["issuelinks"]) == 1
        assert len(site.comments_by_bot(key, public=True)) == 1
    finally:
        site.running.stop()


class FailLinksBeforeApplying:
    """The first `times` issue links fail with 503 before Jira applies anything."""

    def __init__(self, app, times: int):
        self.app, self.left = app, times

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/issueLink") and self.left:
            self.left -= 1
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "0")])
            return [b"down"]
        return self.app(environ, start_response)


def test_issue_properties_are_not_searchable():
    """Source: Atlassian, "Entity properties": only properties an app declares in a
    jiraEntityProperties index module can be used in JQL; others are "not searchable"."""
    site, key = reclassified_site()
    try:
        answer = requests.post(f"{site.url}/rest/api/3/search/jql", auth=(AGENT, "t"),
                               json={"jql": "issue.property[jsm-autopilot].source = SD-1", "fields": ["summary"]})
        assert answer.status_code == 400
    finally:
        site.running.stop()


def test_an_issue_filed_but_not_linked_is_found_again_and_linked_not_filed_twice():
    holder = {}

    def wrap(app):
        holder["failing"] = FailLinksBeforeApplying(app, times=0)
        return holder["failing"]

    site, key = reclassified_site(wrap)
    holder["failing"].left = 100  # every link attempt of the first sweep fails before Jira applies it
    try:
        first = sweep_once(site.client(max_attempts=2), site.settings)
        assert first.failures and len(pm_issues(site)) == 1 and pm_issues(site)[0]["fields"]["issuelinks"] == []
        holder["failing"].left = 0
        second = sweep_once(site.client(), site.settings)
        assert second.firings_applied == 1 and not second.failures
        filed = pm_issues(site)
        assert len(filed) == 1 and filed[0]["fields"]["issuelinks"][0]["outwardIssue"]["key"] == key
    finally:
        site.running.stop()
