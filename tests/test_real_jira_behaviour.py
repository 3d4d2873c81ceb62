"""The sandbox behaves as real Jira does where Jira is stricter or stranger than its spec, and the
service copes. Each test names its source; sandbox/REAL_JIRA.md collects them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests

from jsm_autopilot.connector.sweep import sweep_once
from tests.site import AGENT, CUSTOMER, is_public

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
WAITING = "Clarification required / On hold"


def as_user(email: str) -> requests.Session:
    session = requests.Session()
    session.auth = (email, "api-token")
    return session


def churn_links(site, key: str, times: int) -> None:
    """An agent links and unlinks another ticket, `times` times: each writes a Link history item."""
    other = site.create(summary="related")
    agent = as_user(AGENT)
    for _ in range(times):
        agent.post(site.api("issueLink"), json={"type": {"name": "Relates"}, "inwardIssue": {"key": key},
                                                "outwardIssue": {"key": other}}).raise_for_status()
        link_id = agent.get(site.api(f"issue/{key}"), params={"fields": "issuelinks"}).json()["fields"]["issuelinks"][0]["id"]
        agent.delete(site.api(f"issueLink/{link_id}")).raise_for_status()


# -- changelog ---------------------------------------------------------------------------------

def test_search_inlines_only_the_newest_40_histories_newest_first(site_factory):
    """Source: openshift-eng/ai-helpers#680 (Jira Cloud's search/jql changelog expansion is capped
    at 40, with no paging); estuary/connectors#2523; Adaptavist's search deprecation notes."""
    site = site_factory(T0)
    key = site.create()
    churn_links(site, key, 30)  # 60 Link histories
    found = as_user(AGENT).post(f"{site.url}/rest/api/3/search/jql", json={
        "jql": f"key = {key}", "fields": ["status"], "expand": "changelog"}).json()["issues"][0]["changelog"]
    assert found["total"] == 60 and len(found["histories"]) == 40
    created = [h["created"] for h in found["histories"]]
    assert created == sorted(created, reverse=True)
    ids = [int(h["id"]) for h in found["histories"]]
    assert ids == sorted(ids, reverse=True) and max(ids) == max(h.id for h in site.state.issue(key).histories)


def test_issue_inlines_the_newest_100_and_the_changelog_resource_pages_oldest_first(site_factory):
    """Source: pycontribs/jira#911 ("issue?expand=changelog supplies the most recent 100
    histories"), atlassian-python-api#1210; GET /issue/{key}/changelog in the platform spec
    (`getChangeLogs`, maxResults "default is 100 and the maximum is 100")."""
    site = site_factory(T0)
    key = site.create()
    site.move(key, WAITING)
    churn_links(site, key, 60)  # 1 status + 120 Link histories
    agent = as_user(AGENT)
    inline = agent.get(site.api(f"issue/{key}"), params={"fields": "status", "expand": "changelog"}).json()["changelog"]
    assert inline["total"] == 121 and len(inline["histories"]) == 100 and inline["startAt"] == 21
    assert all(i["field"] == "Link" for h in inline["histories"] for i in h["items"])
    first = agent.get(site.api(f"issue/{key}/changelog"), params={"startAt": 0, "maxResults": 500}).json()
    assert first["maxResults"] == 100 and first["isLast"] is False and first["total"] == 121
    assert first["values"][0]["items"][0]["field"] == "status"
    rest = agent.get(site.api(f"issue/{key}/changelog"), params={"startAt": 100}).json()
    assert rest["isLast"] is True and len(rest["values"]) == 21


def test_adding_and_removing_a_link_writes_link_history_on_both_ends(site_factory):
    """Source: Jira's issue history shows "Link" entries ("This issue relates to SD-2");
    JRACLOUD-67458 discussion of changelog contents."""
    site = site_factory(T0)
    key = site.create()
    churn_links(site, key, 1)
    items = [h.items[0] for h in site.state.issue(key).histories]
    assert [(i["field"], i["from"] is None, i["to"] is None) for i in items] == [("Link", True, False), ("Link", False, True)]
    assert items[1]["fromString"].startswith("This issue relates ")
    other = items[0]["to"]
    assert [h.items[0]["field"] for h in site.state.issue(other).histories] == ["Link", "Link"]


def test_data_center_has_no_changelog_resource(site_factory):
    """Source: pycontribs/jira#911 (the resource is "not available in the latest Jira Server REST
    API reference"); the Data Center REST reference lists no issue/{key}/changelog."""
    site = site_factory(T0, deployment="datacenter")
    key = site.create()
    response = requests.get(site.api(f"issue/{key}/changelog"), headers={"Authorization": f"Bearer {site.personal_access_token(AGENT)}"})
    assert response.status_code == 404


def test_a_waiting_ticket_whose_status_change_was_pushed_out_by_link_churn_is_reminded_on_its_day(site_factory):
    """The service reads the whole history when the inline page is short (connector/reading.py)."""
    site = site_factory(T0)
    key = site.create()
    site.move(key, WAITING)
    site.set_clock(T0 + DAY)
    churn_links(site, key, 60)  # the status change is the oldest of 121 histories
    client = site.client()
    site.set_clock(T0 + 10 * DAY - timedelta(seconds=1))
    assert sweep_once(client, site.settings).firings_applied == 0
    site.set_clock(T0 + 10 * DAY)
    report = sweep_once(client, site.settings)
    assert report.failures == [] and report.by_rule == {"clarification.reminder": 1}
    assert len(site.comments_by_bot(key, public=True)) == 1
    paged = [r for r in site.requests_made() if r["path"].endswith(f"/issue/{key}/changelog")]
    assert paged, "the full changelog was read from the paged resource"


def newest_histories_only(keep: int):
    """A WSGI wrapper under which every changelog Jira returns holds only its newest `keep`
    histories, with the true `total`: a site answering short, on every path."""
    import json as json_module

    def cut(value):
        if isinstance(value, dict):
            changelog = value.get("changelog")
            if isinstance(changelog, dict) and isinstance(changelog.get("histories"), list):
                newest = sorted(changelog["histories"], key=lambda h: h["created"])[-keep:]
                value["changelog"] = {**changelog, "maxResults": keep, "total": len(changelog["histories"]), "histories": newest}
            for inner in value.values():
                cut(inner)
        elif isinstance(value, list):
            for inner in value:
                cut(inner)

    def wrap(app):
        def short(environ, start_response):
            captured = {}

            def keep_start(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers
                return lambda data: None

            body = b"".join(app(environ, keep_start))
            headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
            if any(k.lower() == "content-type" and "json" in v for k, v in headers) and b'"changelog"' in body:
                document = json_module.loads(body)
                cut(document)
                body = json_module.dumps(document).encode()
            start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
            return [body]
        return short
    return wrap


def test_on_data_center_a_changelog_still_short_after_a_full_read_is_no_ground_for_a_decision(site_factory):
    """Data Center inlines the changelog on the issue; should even that read come back short of its
    `total`, the service says so and acts on nothing, rather than take creation for the status change."""
    site = site_factory(T0, deployment="datacenter", wrap=newest_histories_only(5))
    key = site.create()
    site.move(key, WAITING)
    site.set_clock(T0 + DAY)
    churn_links(site, key, 10)  # the status change is the oldest of 21 histories; 5 are shown
    site.set_clock(T0 + 10 * DAY)
    report = sweep_once(site.client(), site.settings)
    assert report.firings_applied == 0 and site.comments_by_bot(key) == []
    assert [f for f in report.failures if f.startswith(f"{key}:")] == [
        f"{key}: changelog: holds 5 of 21 histories and no status change; fetch the full changelog"]


# -- comments ----------------------------------------------------------------------------------

def test_search_inlines_20_comments_with_the_real_total(site_factory):
    """Source: Adaptavist's notes on /rest/api/3/search/jql ("returns at most 20 comments")."""
    site = site_factory(T0)
    key = site.create()
    for n in range(25):
        site.comment(key, f"note {n}", by=AGENT)
    found = as_user(AGENT).post(f"{site.url}/rest/api/3/search/jql", json={
        "jql": f"key = {key}", "fields": ["comment"]}).json()["issues"][0]["fields"]["comment"]
    assert found["total"] == 25 and len(found["comments"]) == 20


def test_a_customer_reply_beyond_the_inline_comments_restarts_the_clock(site_factory):
    site = site_factory(T0)
    key = site.create()
    site.move(key, WAITING)
    for n in range(22):
        site.comment(key, f"agent note {n}", by=AGENT)
    site.set_clock(T0 + 5 * DAY)
    site.comment(key, "Here are the logs you asked for.", by=CUSTOMER)  # comment 23: not inline
    client = site.client()
    site.set_clock(T0 + 10 * DAY)
    report = sweep_once(client, site.settings)
    assert report.failures == [] and report.by_rule.get("clarification.reminder", 0) == 0
    site.set_clock(T0 + 15 * DAY)
    assert sweep_once(client, site.settings).by_rule == {"clarification.reminder": 1}


# -- Data Center comments ----------------------------------------------------------------------

def test_data_center_comments_carry_no_jsd_public_and_show_visibility_as_a_property(site_factory):
    """Source: JSM Data Center's REST API has no `jsdPublic` (a Cloud field, JIRA-CONTRACT.md 1.3
    "jsdPublic is read-only ... Jira Cloud Platform"); visibility is the `sd.public.comment`
    comment property, returned by GET /comment?expand=properties (JIRA-CONTRACT.md 3.5)."""
    site = site_factory(T0, deployment="datacenter")
    key = site.create()
    token = site.personal_access_token(AGENT)
    agent = requests.Session()
    agent.headers["Authorization"] = f"Bearer {token}"
    agent.post(site.api(f"issue/{key}/comment"), json={
        "body": "internal", "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}).raise_for_status()
    agent.post(site.api(f"issue/{key}/comment"), json={"body": "public"}).raise_for_status()
    inline = agent.get(site.api(f"issue/{key}"), params={"fields": "comment"}).json()["fields"]["comment"]["comments"]
    assert all("jsdPublic" not in c and "properties" not in c for c in inline)
    listed = agent.get(site.api(f"issue/{key}/comment"), params={"expand": "properties"}).json()["comments"]
    assert [is_public(c) for c in listed] == [False, True]


# -- transition screens ------------------------------------------------------------------------

def test_resolved_and_closed_ask_for_a_resolution_on_their_screen(site_factory):
    """Source: JSM's default service-desk workflows put the Resolution on the screen of the
    transitions into Resolved and Closed; the platform spec's doTransition: fields "must be on
    the transition screen", and a required screen field left out is a 400 with `errors`."""
    site = site_factory(T0)
    key = site.create()
    agent = as_user(AGENT)
    offered = agent.get(site.api(f"issue/{key}/transitions"), params={"expand": "transitions.fields"}).json()["transitions"]
    by_target = {t["to"]["name"]: t for t in offered}
    assert by_target["Resolved"]["fields"]["resolution"]["required"] is True
    assert by_target["Clarification required / On hold"]["fields"] == {}
    refused = agent.post(site.api(f"issue/{key}/transitions"), json={"transition": {"id": by_target["Resolved"]["id"]}})
    assert refused.status_code == 400 and "resolution" in refused.json()["errors"]
    bad = agent.post(site.api(f"issue/{key}/transitions"), json={
        "transition": {"id": by_target["Resolved"]["id"]}, "fields": {"resolution": {"name": "Fixed by magic"}}})
    assert bad.status_code == 400
    off_screen = agent.post(site.api(f"issue/{key}/transitions"), json={
        "transition": {"id": by_target["Clarification required / On hold"]["id"]}, "fields": {"resolution": {"name": "Done"}}})
    assert off_screen.status_code == 400
    assert site.state.issue(key).status == "Opened"
    names = [r["name"] for r in agent.get(site.api("resolution")).json()]
    assert "Done" in names and "Won't Do" in names


def test_the_service_closes_and_resolves_through_screens_that_require_a_resolution(site_factory):
    site = site_factory(T0)
    waiting, resolved = site.create(), site.create()
    site.move(waiting, WAITING)
    site.move(resolved, "Resolved")
    client = site.client()
    for day in (10, 20, 30, 40, 50):
        site.set_clock(T0 + day * DAY)
        report = sweep_once(client, site.settings)
        assert report.failures == []
    assert site.state.issue(waiting).status == "Closed" and site.state.issue(resolved).status == "Closed"
    assert site.state.issue(waiting).resolution == site.settings.resolutions.done
    # A customer's confirmation resolves a Resolved ticket through the same kind of screen.
    confirmed = site.create()
    site.move(confirmed, "Resolved")
    site.set_clock(T0 + 51 * DAY)
    site.comment(confirmed, "Thanks, please close the ticket.")
    assert sweep_once(client, site.settings).by_rule == {"resolved.confirm": 1}
    assert site.state.issue(confirmed).status == "Closed"


ROOT_CAUSE = {"required": True, "name": "Root cause", "key": "customfield_10400", "operations": ["set"],
              "schema": {"type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select", "customId": 10400},
              "allowedValues": [{"id": "1", "value": "Product"}, {"id": "2", "value": "Customer"}]}


def test_a_screen_with_a_required_custom_field_fails_the_firing_once_with_a_note_naming_it(site_factory):
    """A site's own screens may require more than the Resolution: Jira answers 400 with "<Name> is
    required." under the field's id (textfuel/lazyjira#111); `expand=transitions.fields` shows it
    (platform spec FieldMetadata: required, name, key, schema, operations)."""
    site = site_factory(T0)
    site.state.screen_fields["Closed"] = {"customfield_10400": ROOT_CAUSE}
    first, second = site.create(), site.create()
    site.move(first, "Resolved")
    agent = as_user(AGENT)
    offered = agent.get(site.api(f"issue/{second}/transitions"), params={"expand": "transitions.fields"}).json()["transitions"]
    to_closed = next(t for t in offered if t["to"]["name"] == "Closed")
    assert to_closed["fields"]["customfield_10400"]["required"] is True
    refused = agent.post(site.api(f"issue/{second}/transitions"), json={"transition": {"id": to_closed["id"]},
                                                                       "fields": {"resolution": {"name": "Done"}}})
    assert (refused.status_code, refused.json()["errors"]) == (400, {"customfield_10400": "Root cause is required."})

    client = site.client()
    site.set_clock(T0 + 50 * DAY)
    report = sweep_once(client, site.settings)
    assert len(report.failures) == 1 and report.failures[0].startswith(f"{first} resolved.close: ")
    assert "Root cause (customfield_10400)" in report.failures[0]
    notes = site.comments_by_bot(first, public=False)
    assert len(notes) == 1 and "Root cause (customfield_10400)" in site.state.issue(first).comments[-1].text
    assert "transitions.screen_fields" in site.state.issue(first).comments[-1].text
    assert site.comments_by_bot(first, public=True) == [] and site.state.issue(first).status == "Resolved"
    site.set_clock(T0 + 51 * DAY)
    assert sweep_once(client, site.settings).failures == []
    assert len(site.comments_by_bot(first, public=False)) == 1, "failed once, not in a loop"

    mapped = site.settings.model_copy(update={"transitions": site.settings.transitions.model_copy(
        update={"screen_fields": {"customfield_10400": {"value": "Customer"}}})})
    site.move(second, "Resolved")
    site.set_clock(T0 + 102 * DAY)
    assert sweep_once(client, mapped).by_rule == {"resolved.close": 1}
    assert site.state.issue(second).status == "Closed"
    assert site.state.issue(second).custom_fields["customfield_10400"] == {"value": "Customer"}


def test_a_personal_access_token_is_made_with_the_password_and_works_as_bearer(site_factory):
    """Source: Atlassian, "Using Personal Access Tokens" (Data Center): POST
    /rest/pat/latest/tokens with Basic auth as the user; the answer carries `rawToken`, shown once."""
    site = site_factory(T0, deployment="datacenter")
    made = requests.post(f"{site.url}/rest/pat/latest/tokens", auth=(AGENT, "password"), json={"name": "ci", "expirationDuration": 30})
    assert made.status_code == 201 and made.json()["name"] == "ci" and "expiringAt" in made.json()
    bearer = {"Authorization": f"Bearer {made.json()['rawToken']}"}
    assert requests.get(site.api("myself"), headers=bearer).json()["name"] == AGENT
    assert requests.get(site.api("myself"), headers={"Authorization": "Bearer made-up"}).status_code == 401
    assert requests.post(f"{site.url}/rest/pat/latest/tokens", headers=bearer, json={"name": "again"}).status_code == 401
    info = requests.get(site.api("serverInfo"), headers=bearer).json()
    assert info["deploymentType"] == "Server" and info["versionNumbers"][0] == 10


def test_on_data_center_an_internal_note_does_not_accept_an_opened_ticket_and_a_public_answer_does(site_factory):
    """intake.accept on Data Center over v2 with a PAT: visibility comes from sd.public.comment."""
    site = site_factory(T0, deployment="datacenter")
    key = site.create()
    agent = requests.Session()
    agent.headers["Authorization"] = f"Bearer {site.personal_access_token(AGENT)}"
    agent.post(site.api(f"issue/{key}/comment"), json={
        "body": "Looking into it (internal)", "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}).raise_for_status()
    client = site.client()
    site.set_clock(T0 + timedelta(minutes=5))
    report = sweep_once(client, site.settings)
    assert report.failures == [] and "intake.accept" not in report.by_rule
    assert site.state.issue(key).status == "Opened"
    agent.post(site.api(f"issue/{key}/comment"), json={"body": "We are on it."}).raise_for_status()
    site.set_clock(T0 + timedelta(minutes=10))
    assert sweep_once(client, site.settings).by_rule["intake.accept"] == 1
    assert site.state.issue(key).status == "In Review by Service Desk"
    assert all(r["path"].startswith(("/rest/api/2/", "/rest/pat/")) for r in site.requests_made())


# -- date and date-time fields ------------------------------------------------------------------

def test_date_time_fields_take_only_jiras_own_format(site_factory):
    """pycontribs/jira#1358 lists what a Cloud site took (`2022-04-14T22:40:15.00+0000`) and refused
    (`+00:00`, no fraction, a six-digit fraction, no zone); sooperset/mcp-atlassian#709 and #863 show
    the answer, "Error parsing time". Date fields take `YYYY-MM-DD` (Atlassian's REST examples)."""
    site = site_factory(T0)
    key = site.create()
    agent = as_user(AGENT)
    accepted, estimated = site.settings.fields.accepted_at, site.settings.fields.estimated_delivery_date
    for refused in ("2023-03-23T07:45:29.056000+02:00", "2023-03-23T07:45:29.056+02:00", "2023-03-23T07:45:29+0200",
                    "2023-03-23T07:45:29.056", "2023-03-23T07:45:29.056Z", "2023-02-30T07:45:29.056+0200", 1679550329):
        answer = agent.put(site.api(f"issue/{key}"), json={"fields": {accepted: refused}})
        assert answer.status_code == 400, refused
        assert answer.json()["errors"][accepted] in (f"Error parsing time: {refused}", "Operation value must be a string")
    for refused in ("2026-12-01T00:00:00.000+0000", "01.12.2026", "2026-13-01"):
        answer = agent.put(site.api(f"issue/{key}"), json={"fields": {estimated: refused}})
        assert (answer.status_code, answer.json()["errors"]) == (400, {estimated: f"Error parsing date string: {refused}"})
    assert site.state.issue(key).custom_fields.get(accepted) is None
    agent.put(site.api(f"issue/{key}"), json={"fields": {accepted: "2023-03-23T07:45:29.056+0200",
                                                         estimated: "2026-12-01"}}).raise_for_status()
    assert site.state.issue(key).custom_fields[accepted] == "2023-03-23T07:45:29.056+0200"


def test_intake_accept_writes_the_acceptance_in_jiras_format_on_cloud_and_data_center(site_factory):
    for deployment in ("cloud", "datacenter"):
        site = site_factory(T0, deployment=deployment)
        key = site.create()
        answered = T0 + timedelta(minutes=3, seconds=7, microseconds=56789)
        site.set_clock(answered)
        site.comment(key, "We are on it.", by=AGENT)
        site.set_clock(answered + timedelta(minutes=5))
        report = sweep_once(site.client(), site.settings)
        assert report.failures == [] and report.by_rule["intake.accept"] == 1, deployment
        # The answer's moment as Jira wrote it, to the millisecond, with the offset Jira gave.
        assert site.state.issue(key).custom_fields[site.settings.fields.accepted_at] == "2026-01-05T09:03:07.056+0000"
        assert site.state.issue(key).status == "In Review by Service Desk"


# -- customers ---------------------------------------------------------------------------------

def organisation_with_contacts(site, *emails: str) -> int:
    """An organisation whose contacts are portal customers (accounts of their own)."""
    admin = as_user(AGENT)
    organisation = admin.post(f"{site.url}/rest/servicedeskapi/organization", json={"name": "Acme"}).json()["id"]
    ids = [admin.post(f"{site.url}/rest/servicedeskapi/customer", json={"email": e, "displayName": e}).json()["accountId"] for e in emails]
    admin.post(f"{site.url}/rest/servicedeskapi/organization/{organisation}/user", json={"accountIds": ids}).raise_for_status()
    return int(organisation)


def test_portal_customers_are_accounts_of_their_own_and_see_only_their_organisations_requests(site_factory):
    """Source: the servicedeskapi spec's createCustomer (accountId "qm:..."); Atlassian, "What are
    customer accounts?" (portal-only accounts, `accountType: customer`); JSM shares a request with
    its reporter, its participants and the organisations it is shared with."""
    site = site_factory(T0)
    organisation = organisation_with_contacts(site, "bob@acme.example")
    # Raised on the portal: they carry a request type ("2": Get help).
    shared = site.create(issue_type="Request", customfield_10010="2", **{site.settings.fields.organizations: [organisation]})
    private = site.create(issue_type="Request", customfield_10010="2")
    bob = as_user("bob@acme.example")
    me = bob.get(site.api("myself")).json()
    assert me["accountType"] == "customer" and me["accountId"].startswith("qm:")
    assert bob.post(f"{site.url}/rest/servicedeskapi/request/{shared}/comment", json={"body": "Any news?"}).status_code == 201
    assert bob.post(f"{site.url}/rest/servicedeskapi/request/{private}/comment", json={"body": "Hello?"}).status_code == 404
    internal = bob.post(f"{site.url}/rest/servicedeskapi/request/{shared}/comment", json={"body": "x", "public": False})
    assert internal.status_code == 403
    again = as_user(AGENT).post(f"{site.url}/rest/servicedeskapi/customer", json={"email": "bob@acme.example", "displayName": "Bob"})
    assert again.status_code == 400


def test_a_contact_of_the_organisation_who_is_not_the_reporter_restarts_the_clock(site_factory):
    site = site_factory(T0)
    organisation = organisation_with_contacts(site, "bob@acme.example")
    key = site.create(customfield_10010="1", **{site.settings.fields.organizations: [organisation]})
    site.move(key, WAITING)
    site.set_clock(T0 + 5 * DAY)
    as_user("bob@acme.example").post(f"{site.url}/rest/servicedeskapi/request/{key}/comment",
                                     json={"body": "We still see the error."}).raise_for_status()
    as_user("dave@vendor.example").post(site.api(f"issue/{key}/comment"), json={"body": site.body("Looking.")}).raise_for_status()
    client = site.client()
    site.set_clock(T0 + 10 * DAY)
    report = sweep_once(client, site.settings)
    assert report.failures == [] and "clarification.reminder" not in report.by_rule
    site.set_clock(T0 + 15 * DAY)
    assert sweep_once(client, site.settings).by_rule == {"clarification.reminder": 1}
