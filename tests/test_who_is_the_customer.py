"""Who the customer is on a real site (PROCESS.md, timers): other apps are neither customer nor
agent, customers may have Atlassian accounts, restricted comments are internal. Each test names
its source; sandbox/REAL_JIRA.md collects them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jsm_autopilot.connector.sweep import sweep_once
from tests.site import AGENT, CUSTOMER
from tests.test_real_jira_behaviour import DAY, T0, WAITING, as_user

AUTOMATION_FOR_JIRA = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"


def an_app_account(site) -> str:
    """Automation for Jira's account: `accountType: app`, the same accountId on every Cloud site
    (the user resource's shape as dumped from Cloud: no e-mail, no time zone; see sandbox/REAL_JIRA.md)."""
    site.state.user("automation-for-jira@connect.atlassian.example", "Automation for Jira", "app", AUTOMATION_FOR_JIRA)
    return "automation-for-jira@connect.atlassian.example"


def test_another_apps_public_comment_neither_accepts_a_ticket_nor_restarts_a_clock_nor_hands_back(site_factory):
    """Jira's own automation is not an agent and not the customer (PROCESS.md, timers)."""
    site = site_factory(T0)
    app = an_app_account(site)
    opened, waiting, resolved = site.create(), site.create(), site.create()
    site.move(waiting, WAITING)
    site.move(resolved, "Resolved")
    site.set_clock(T0 + 5 * DAY)
    for key in (opened, waiting, resolved):
        site.comment(key, "Your request was received; an agent will look at it soon.", by=app)
    client = site.client()
    site.set_clock(T0 + 10 * DAY)
    report = sweep_once(client, site.settings)
    assert report.failures == []
    assert "intake.accept" not in report.by_rule and "resolved.confirm" not in report.by_rule
    assert report.by_rule.get("clarification.reminder") == 1, "the app's comment restarted the customer's clock"
    assert [site.state.issue(k).status for k in (opened, waiting, resolved)] == ["Opened", WAITING, "Resolved"]


def test_a_customer_with_an_atlassian_account_in_the_organisation_restarts_the_clock(site_factory):
    """Help desks whose customers have Atlassian accounts (`accountType: atlassian`, like agents):
    the role comes from the request's organisation, not from accountType."""
    site = site_factory(T0)
    agent = as_user(AGENT)
    organisation = agent.post(f"{site.url}/rest/servicedeskapi/organization", json={"name": "Acme"}).json()["id"]
    colleague = site.state.user("carl@acme.example", "Carl Customer")  # an Atlassian account, not an agent
    agent.post(f"{site.url}/rest/servicedeskapi/organization/{organisation}/user",
               json={"accountIds": [colleague.account_id]}).raise_for_status()
    key = site.create(customfield_10010="1", **{site.settings.fields.organizations: [int(organisation)]})
    site.move(key, WAITING)
    site.set_clock(T0 + 5 * DAY)
    site.comment(key, "We still see the error on our side.", by="carl@acme.example")
    client = site.client()
    site.set_clock(T0 + 10 * DAY)
    report = sweep_once(client, site.settings)
    assert report.failures == [] and "clarification.reminder" not in report.by_rule
    site.set_clock(T0 + 15 * DAY)
    assert sweep_once(client, site.settings).by_rule == {"clarification.reminder": 1}


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_an_agent_who_raised_the_ticket_answers_as_an_agent(site_factory, deployment):
    """An agent of the project is never the customer, even as the reporter: the Atlassian KB "User
    cannot be assigned Jira Service Management issues" (only agents are assignable) is how Jira tells."""
    site = site_factory(T0, deployment=deployment)
    key = site.create(reporter=AGENT)
    site.set_clock(T0 + DAY)
    site.comment(key, "We have reproduced it and are on it.", by=AGENT)
    site.set_clock(T0 + DAY + timedelta(minutes=5))
    report = sweep_once(site.client(), site.settings)
    assert report.failures == [] and report.by_rule.get("intake.accept") == 1
    assert site.state.issue(key).status == "In Review by Service Desk"
    asked = [r for r in site.requests_made() if r["path"].endswith("/user/assignable/search")]
    assert len(asked) == 1, "the agent's role is asked once and kept"


def test_a_role_restricted_comment_is_internal_though_jira_calls_it_public(site_factory):
    """A comment restricted to a role still reads `jsdPublic: true` (atlassian/atlassian-mcp-server#139,
    sooperset/mcp-atlassian#847): it is no agent's public answer and no customer's feedback."""
    site = site_factory(T0)
    opened, resolved = site.create(), site.create()
    site.move(resolved, "Resolved")
    restricted = {"type": "role", "value": "Service Desk Team"}
    site.set_clock(T0 + DAY)
    answer = as_user(AGENT).post(site.api(f"issue/{opened}/comment"), json={"body": site.body("Looking."), "visibility": restricted})
    answer.raise_for_status()
    assert answer.json()["jsdPublic"] is True and answer.json()["visibility"]["value"] == "Service Desk Team"
    as_user(CUSTOMER).post(site.api(f"issue/{resolved}/comment"),
                           json={"body": site.body("It still fails for us."), "visibility": restricted}).raise_for_status()
    refused = as_user(AGENT).post(site.api(f"issue/{opened}/comment"), json={"body": site.body("x"), "visibility": {"type": "role", "value": "Users"}})
    assert (refused.status_code, refused.json()["errorMessages"]) == (400, ["Role with id: Users does not exist."])
    site.set_clock(T0 + DAY + timedelta(minutes=5))
    report = sweep_once(site.client(), site.settings)
    assert report.failures == [] and report.by_rule == {}
    assert [site.state.issue(k).status for k in (opened, resolved)] == ["Opened", "Resolved"]
