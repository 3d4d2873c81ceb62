"""`webhook register | list | delete` on Cloud and on Data Center 9 and 10, and doctor's new checks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.site import AGENT
from tests.test_doctor import populated_site, run

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
URL = "https://autopilot.example.com/webhooks/jira"


def site_of(site_factory, flavour: str):
    if flavour == "cloud":
        return populated_site(site_factory)
    site = site_factory(T0 - timedelta(days=1), deployment="datacenter")
    site.state.data_center_version = (9, 12, 0) if flavour == "datacenter-9" else (10, 3, 6)
    return site


def dc_env(site) -> dict:
    if site.version == "3":
        return {}
    return {"JIRA_USER": "", "JIRA_API_TOKEN": "", "JIRA_PAT": site.personal_access_token("autopilot@vendor.example")}


@pytest.mark.parametrize("flavour, resource", [
    ("cloud", "/rest/webhooks/1.0/webhook"),
    ("datacenter-9", "/rest/webhooks/1.0/webhook"),
    ("datacenter-10", "/rest/jira-webhook/1.0/webhooks"),
])
def test_register_update_list_and_delete(site_factory, tmp_path, flavour, resource):
    """Source for the two resources: Atlassian's Data Center webhook page ("Starting from Jira
    10.0.x, the URL to webhook resource has changed to /rest/jira-webhook/1.0/webhooks");
    getsentry/sentry#90116 chooses by serverInfo.versionNumbers."""
    site = site_of(site_factory, flavour)
    env = dc_env(site)
    created = run(site, tmp_path, ["webhook", "register", "--url", URL], env=env)
    assert created.exit_code == 0, created.output
    assert "created" in created.stdout
    (hook,) = site.state.registered_webhooks
    assert hook["url"] == URL and hook["jql"] == 'project = "SD"' and hook["secret"] == "hook-secret"
    assert {r["path"] for r in site.requests_made() if "webhook" in r["path"]} == {resource}

    moved = "https://autopilot2.example.com/webhooks/jira"
    updated = run(site, tmp_path, ["webhook", "register", "--url", moved], env={**env, "JSM_AUTOPILOT_WEBHOOK_SECRET": "rotated"})
    assert updated.exit_code == 0 and "updated" in updated.stdout
    assert len(site.state.registered_webhooks) == 1
    assert (hook["url"], hook["secret"]) == (moved, "rotated")

    listed = run(site, tmp_path, ["webhook", "list", "--json"], env=env)
    entries = json.loads(listed.stdout)
    assert [(e["id"], e["url"], e["this_project"]) for e in entries] == [(str(hook["id"]), moved, True)]
    assert set(entries[0]["events"]) == {"jira:issue_created", "jira:issue_updated", "comment_created", "comment_updated"}

    deleted = run(site, tmp_path, ["webhook", "delete", str(hook["id"])], env=env)
    assert deleted.exit_code == 0 and site.state.registered_webhooks == []
    missing = run(site, tmp_path, ["webhook", "delete", str(hook["id"])], env=env)
    assert missing.exit_code == 2 and "404" in missing.stderr


def test_data_center_10_has_only_the_new_resource_and_9_only_the_old(site_factory):
    for version, gone in (((10, 3, 6), "/rest/webhooks/1.0/webhook"), ((9, 12, 0), "/rest/jira-webhook/1.0/webhooks")):
        site = site_factory(T0, deployment="datacenter")
        site.state.data_center_version = version
        bearer = {"Authorization": f"Bearer {site.personal_access_token(AGENT)}"}
        assert requests.get(site.url + gone, headers=bearer).status_code == 404


def test_data_center_10_keeps_the_secret_in_its_configuration_and_never_shows_it(site_factory, tmp_path):
    site = site_of(site_factory, "datacenter-10")
    run(site, tmp_path, ["webhook", "register", "--url", URL], env=dc_env(site))
    bearer = {"Authorization": f"Bearer {site.personal_access_token(AGENT)}"}
    (shown,) = requests.get(f"{site.url}/rest/jira-webhook/1.0/webhooks", headers=bearer).json()
    assert shown["configuration"]["FILTERS"] == 'project = "SD"' and "SECRET" not in shown["configuration"]
    assert site.state.webhooks.secret == b"hook-secret"  # Data Center 10 signs its deliveries


def test_register_refuses_an_address_serve_does_not_answer_and_warns_on_plain_http(site_factory, tmp_path):
    site = populated_site(site_factory)
    wrong = run(site, tmp_path, ["webhook", "register", "--url", "https://autopilot.example.com/hooks"])
    assert wrong.exit_code == 2 and "must end in /webhooks/jira" in wrong.stderr
    assert site.state.registered_webhooks == []
    plain = run(site, tmp_path, ["webhook", "register", "--url", "http://autopilot.example.com/webhooks/jira"])
    assert plain.exit_code == 0 and "plain http" in plain.stderr


def test_doctor_fails_on_duplicate_webhooks_for_the_project(site_factory, tmp_path):
    site = populated_site(site_factory)
    run(site, tmp_path, ["webhook", "register", "--url", "http://127.0.0.1:9/webhooks/jira"])
    requests.post(f"{site.url}/rest/webhooks/1.0/webhook", auth=(AGENT, "t"), json={
        "name": "old hand-made hook", "url": "https://old.example.com/webhooks/jira", "events": ["jira:issue_updated"],
        "filters": {"issue-related-events-section": "project = SD"}}).raise_for_status()
    result = run(site, tmp_path, ["doctor"])
    assert result.exit_code == 1
    line = next(line for line in result.stdout.splitlines() if "each event would arrive 2 times" in line)
    assert line.startswith("FAIL") and "jsm-autopilot webhook delete" in line


def test_doctor_warns_that_data_center_9_cannot_sign(site_factory, tmp_path):
    site = site_of(site_factory, "datacenter-9")
    run(site, tmp_path, ["webhook", "register", "--url", "http://127.0.0.1:9/webhooks/jira"], env=dc_env(site))
    assert site.state.webhooks.secret is None  # Data Center 9 sends its deliveries unsigned
    result = run(site, tmp_path, ["doctor"], env=dc_env(site))
    assert any(line.startswith("warn") and "cannot sign" in line for line in result.stdout.splitlines())


def test_doctor_fails_on_a_field_id_that_points_at_the_wrong_kind_of_field(site_factory, tmp_path):
    """Source: GET /rest/api/3/field returns each field's schema (the platform spec's FieldDetails,
    JsonTypeBean); Organizations is `com.atlassian.servicedesk:sd-customer-organizations`."""
    site = populated_site(site_factory)
    schemas = {f["id"]: f["schema"] for f in requests.get(site.api("field"), auth=(AGENT, "t")).json()}
    assert schemas["customfield_10002"]["custom"] == "com.atlassian.servicedesk:sd-customer-organizations"
    assert schemas["customfield_10001"]["custom"] == "com.atlassian.servicedesk:sd-request-participants"
    assert schemas["customfield_10101"]["type"] == "date" and schemas["customfield_10104"]["type"] == "datetime"

    def swapped(data):
        data["fields"]["organizations"] = "customfield_10101"  # the estimated delivery date
        data["fields"]["accepted_at"] = "customfield_10101"

    result = run(site, tmp_path, ["doctor"], change=swapped)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    organizations = next(line for line in lines if line.startswith("FAIL") and "fields.organizations" in line)
    assert "is JSM's Organizations field" in organizations and "customfield_10002 (Organizations)" in organizations
    assert any(line.startswith("FAIL") and "fields.accepted_at" in line for line in lines)
    assert any(line.startswith("ok") and "fields.estimated_delivery_date" in line for line in lines)


def test_doctor_checks_organisations_security_levels_and_the_resolution(site_factory, tmp_path):
    site = populated_site(site_factory)

    def wrong(data):
        data["deliveries"]["request_type"] = "Patch delivery"
        data["organisations"]["Nobody Inc"] = {"language": "en"}
        first_region = next(iter(data["regions"]))
        data["regions"][first_region]["security_level"] = "99999"
        data["resolutions"] = {"done": "Fixed"}

    lines = run(site, tmp_path, ["doctor"], change=wrong).stdout.splitlines()
    assert any(line.startswith("FAIL") and "organisations.Nobody Inc exists" in line for line in lines)
    assert any(line.startswith("FAIL") and "issue security level 99999 exists" in line for line in lines)
    assert any(line.startswith("FAIL") and "resolutions.done: 'Fixed'" in line and "Done" in line for line in lines)
    assert any(line.startswith("FAIL") and "deliveries.request_type: 'Patch delivery'" in line for line in lines)


def test_doctor_on_data_center_reads_transitions_from_a_ticket_and_skips_without_one(site_factory, tmp_path):
    site = site_of(site_factory, "datacenter-10")
    requests.post(f"{site.url}/_sandbox/seed", json={"organisations": list(site.settings.organisations)}).raise_for_status()
    site.move(site.create(), "Resolved")
    lines = run(site, tmp_path, ["doctor"], env=dc_env(site)).stdout.splitlines()
    close_from_resolved = next(line for line in lines if "from 'Resolved' to 'Closed'" in line)
    assert close_from_resolved.startswith("ok") and "seen on SD-1" in close_from_resolved
    waiting = next(line for line in lines if "from 'Clarification required / On hold' to 'Closed'" in line)
    assert waiting.startswith("skip") and "no workflow API" in waiting
