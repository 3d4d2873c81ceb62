"""The sandbox behaves like Jira for what jsm-autopilot uses (and its traffic meets the specs)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import requests

from tests.site import AGENT, BOT, CUSTOMER

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def as_user(email: str) -> requests.Session:
    session = requests.Session()
    session.auth = (email, "token")
    return session


def test_requests_without_credentials_are_refused(site_factory):
    site = site_factory(T0)
    assert requests.get(site.api("myself")).status_code == 401


def test_an_unknown_email_becomes_a_user_with_a_stable_account_id(site_factory):
    site = site_factory(T0)
    first = as_user("new.customer@example.org").get(site.api("myself")).json()
    again = as_user("New.Customer@example.org").get(site.api("myself")).json()
    assert first["emailAddress"] == "new.customer@example.org"
    assert first["accountId"] == again["accountId"]


def test_the_reporter_is_whoever_created_the_issue(site_factory):
    site = site_factory(T0)
    key = site.create(reporter=CUSTOMER)
    reporter = as_user(AGENT).get(site.api(f"issue/{key}"), params={"fields": "reporter"}).json()["fields"]["reporter"]
    assert reporter["emailAddress"] == CUSTOMER


def test_server_time_is_the_sandbox_clock(site_factory):
    site = site_factory(T0)
    site.set_clock(datetime(2026, 5, 1, 12, 30, tzinfo=timezone.utc))
    info = as_user(BOT).get(site.api("serverInfo")).json()
    assert datetime.fromisoformat(info["serverTime"]) == datetime(2026, 5, 1, 12, 30, tzinfo=timezone.utc)


def test_only_offered_transitions_are_accepted(site_factory):
    site = site_factory(T0)
    key = site.create()
    agent = as_user(AGENT)
    offered = {t["to"]["name"] for t in agent.get(site.api(f"issue/{key}/transitions")).json()["transitions"]}
    assert "Delivery Pending" not in offered  # not from Opened in this workflow
    answer = agent.post(site.api(f"issue/{key}/transitions"), json={"transition": {"id": "41"}})
    assert answer.status_code == 400
    assert answer.json()["errorMessages"] == ["Transition id '41' is not valid for this issue."]


def test_a_transition_takes_a_comment_and_a_property_in_one_call(site_factory):
    site = site_factory(T0)
    key = site.create()
    agent = as_user(AGENT)
    resolve = next(t for t in agent.get(site.api(f"issue/{key}/transitions")).json()["transitions"] if t["to"]["name"] == "Resolved")
    agent.post(site.api(f"issue/{key}/transitions"), json={
        "transition": {"id": resolve["id"]},
        "fields": {"resolution": {"name": "Done"}},
        "update": {"comment": [{"add": {"body": site.body("Solved by the patch.")}}]},
        "properties": [{"key": "marker", "value": {"n": 1}}],
    }).raise_for_status()
    issue = agent.get(site.api(f"issue/{key}"), params={"fields": "status,comment,resolutiondate", "properties": "marker", "expand": "changelog"}).json()
    assert issue["fields"]["status"]["name"] == "Resolved"
    assert issue["fields"]["resolutiondate"] is not None
    assert issue["fields"]["comment"]["comments"][0]["body"]["content"][0]["content"][0]["text"] == "Solved by the patch."
    assert issue["properties"] == {"marker": {"n": 1}}
    fields_changed = [item["field"] for h in issue["changelog"]["histories"] for item in h["items"]]
    assert fields_changed == ["status", "resolution"]


def test_internal_comments_through_both_apis(site_factory):
    site = site_factory(T0)
    key = site.create()
    agent = as_user(AGENT)
    internal = [{"key": "sd.public.comment", "value": {"internal": True}}]
    agent.post(site.api(f"issue/{key}/comment"), json={"body": site.body("note"), "properties": internal}).raise_for_status()
    agent.post(f"{site.url}/rest/servicedeskapi/request/{key}/comment", json={"body": "also internal", "public": False}).raise_for_status()
    agent.post(f"{site.url}/rest/servicedeskapi/request/{key}/comment", json={"body": "public reply", "public": True}).raise_for_status()
    comments = site.issue(key)["fields"]["comment"]["comments"]
    assert [c["jsdPublic"] for c in comments] == [False, False, True]
    internal_only = agent.get(f"{site.url}/rest/servicedeskapi/request/{key}/comment", params={"public": "false"}).json()
    assert [c["body"] for c in internal_only["values"]] == ["note", "also internal"]


def test_search_pages_with_next_page_token(site_factory):
    site = site_factory(T0)
    keys = [site.create(summary=f"ticket {n}") for n in range(7)]
    agent = as_user(AGENT)
    seen, token, pages = [], None, 0
    while True:
        body = {"jql": f'project = "{site.settings.project.key}" ORDER BY key ASC', "maxResults": 3, "fields": ["summary"]}
        if token:
            body["nextPageToken"] = token
        page = agent.post(f"{site.url}/rest/api/3/search/jql", json=body).json()
        pages += 1
        seen += [i["key"] for i in page["issues"]]
        token = page.get("nextPageToken")
        if page["isLast"]:
            break
    assert seen == keys and pages == 3


def test_search_returns_only_ids_unless_fields_are_asked_for(site_factory):
    site = site_factory(T0)
    site.create()
    page = as_user(AGENT).post(f"{site.url}/rest/api/3/search/jql", json={"jql": "project = SD"}).json()
    assert page["issues"][0]["fields"] == {}


def test_jql_errors_are_answered_like_jira(site_factory):
    site = site_factory(T0)
    agent = as_user(AGENT)
    unknown = agent.post(f"{site.url}/rest/api/3/search/jql", json={"jql": "colour = red"})
    assert unknown.status_code == 400
    assert unknown.json()["errorMessages"] == ["Field 'colour' does not exist or you do not have permission to view it."]
    assert agent.post(f"{site.url}/rest/api/3/search/jql", json={"jql": "status IN ("}).status_code == 400


def test_jql_with_quotes_and_or(site_factory):
    site = site_factory(T0)
    a = site.create(summary='He said "hi"')
    b = site.create()
    site.move(b, "Resolved")
    agent = as_user(AGENT)
    jql = 'project = SD AND (status = "Resolved" OR summary ~ "said \\"hi\\"") ORDER BY key DESC'
    found = [i["key"] for i in agent.post(f"{site.url}/rest/api/3/search/jql", json={"jql": jql}).json()["issues"]]
    assert found == [b, a]


def test_the_old_search_is_gone_on_cloud(site_factory):
    site = site_factory(T0)
    answer = as_user(AGENT).post(site.api("search"), json={"jql": "project = SD"})
    assert answer.status_code == 410
    assert "/rest/api/3/search/jql" in answer.json()["errorMessages"][0]


def test_faults_fail_that_share_of_calls_with_retry_after(site_factory):
    site = site_factory(T0)
    site.faults(1.0, [429])
    answer = as_user(AGENT).get(site.api("myself"))
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    site.faults(0)
    assert as_user(AGENT).get(site.api("myself")).status_code == 200
    assert [r["status"] for r in site.requests_made()][-2:] == [429, 200]
    assert requests.post(f"{site.url}/_sandbox/faults", json={"rate": 2}).status_code == 400


def test_organisations_and_the_organisations_field(site_factory):
    site = site_factory(T0)
    agent = as_user(AGENT)
    created = agent.post(f"{site.url}/rest/servicedeskapi/organization", json={"name": "Muster AG"})
    assert created.status_code == 201
    org_id = created.json()["id"]
    assert agent.post(f"{site.url}/rest/servicedeskapi/organization", json={"name": "Muster AG"}).status_code == 400
    key = site.create(**{site.settings.fields.organizations: [int(org_id)]})
    issue = agent.get(site.api(f"issue/{key}"), params={"fields": site.settings.fields.organizations}).json()
    assert issue["fields"][site.settings.fields.organizations][0]["name"] == "Muster AG"
    listed = agent.get(f"{site.url}/rest/servicedeskapi/organization").json()
    assert [o["name"] for o in listed["values"]] == ["Muster AG"]


def test_issue_links_show_on_both_issues(site_factory):
    site = site_factory(T0)
    a, b = site.create(), site.create()
    agent = as_user(AGENT)
    agent.post(site.api("issueLink"), json={"type": {"name": "Relates"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}}).raise_for_status()
    links = agent.get(site.api(f"issue/{a}"), params={"fields": "issuelinks"}).json()["fields"]["issuelinks"]
    assert links[0]["outwardIssue"]["key"] == b


def test_seeding_from_a_document(site_factory, tmp_path):
    site = site_factory(T0)
    seed = {
        "organisations": ["Beispiel GmbH"],
        "issues": [{
            "type": "Incident", "summary": "Zertifikate fehlen", "reporter": "erika@beispiel.example", "organisation": "Beispiel GmbH",
            "created": "2026-02-01T09:00:00+00:00", "status": "Clarification required / On hold", "status_since": "2026-02-02T09:00:00+00:00",
            "comments": [{"author": AGENT, "body": "Bitte Log senden", "created": "2026-02-02T09:00:00+00:00"}],
        }],
    }
    keys = requests.post(f"{site.url}/_sandbox/seed", json=seed).json()["issues"]
    issue = as_user(AGENT).get(site.api(f"issue/{keys[0]}"), params={"fields": "status,created,comment", "expand": "changelog"}).json()
    assert issue["fields"]["status"]["name"] == "Clarification required / On hold"
    assert issue["changelog"]["histories"][-1]["created"].startswith("2026-02-02T09:00")
    assert json.dumps(issue).count("Bitte Log senden") == 1
