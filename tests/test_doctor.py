"""`jsm-autopilot doctor` and `webhook register` against the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import yaml
from click.testing import CliRunner

import jsm_autopilot.cli.live  # noqa: F401  (registers the commands)
from jsm_autopilot.cli.main import main
from tests.site import BOT

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def run(site, tmp_path, args, change=None, env=None):
    data = yaml.safe_load(site.settings.model_dump_json())
    if change:
        change(data)
    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    environment = {"JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
                   "JSM_AUTOPILOT_WEBHOOK_SECRET": "hook-secret", "JSM_AUTOPILOT_PUBLIC_URL": "http://127.0.0.1:9", **(env or {})}
    return CliRunner().invoke(main, [*args, "--config", str(config)], env=environment)


def populated_site(site_factory):
    site = site_factory(T0 - timedelta(days=1))
    seed_organisations(site)
    for status in ("Clarification required / On hold", "Resolved"):
        site.move(site.create(), status)
    return site


def seed_organisations(site) -> None:
    """The organisations app.yaml names, as the site's JSM has them."""
    import requests

    requests.post(f"{site.url}/_sandbox/seed", json={"organisations": list(site.settings.organisations)}).raise_for_status()


def test_doctor_passes_once_the_webhook_is_registered(site_factory, tmp_path):
    site = populated_site(site_factory)
    before = run(site, tmp_path, ["doctor"])
    assert before.exit_code == 1
    assert "FAIL  a webhook for project SD pointing at http://127.0.0.1:9/webhooks/jira" in before.stdout
    assert "jsm-autopilot webhook register --url http://127.0.0.1:9/webhooks/jira" in before.stdout

    registered = run(site, tmp_path, ["webhook", "register", "--url", "http://127.0.0.1:9/webhooks/jira"])
    assert registered.exit_code == 0 and "created" in registered.stdout
    again = run(site, tmp_path, ["webhook", "register", "--url", "http://127.0.0.1:9/webhooks/jira"])
    assert "updated" in again.stdout and len(site.state.registered_webhooks) == 1

    after = run(site, tmp_path, ["doctor"])
    assert after.exit_code == 0, after.stdout
    assert "FAIL" not in after.stdout and "All checks hold." in after.stdout
    assert "ok    transitions.close: a transition from 'Clarification required / On hold' to 'Closed' is in the project's workflows" in after.stdout
    assert "ok    fields.organizations: customfield_10002 (Organizations) is JSM's Organizations field" in after.stdout
    assert "ok    resolutions.done: 'Done' exists" in after.stdout


def test_doctor_names_a_wrong_status_with_the_fix(site_factory, tmp_path):
    site = populated_site(site_factory)
    run(site, tmp_path, ["webhook", "register", "--url", "http://127.0.0.1:9/webhooks/jira"])

    def misspell(data):
        data["statuses"]["clarification"] = "Clarification requried"

    result = run(site, tmp_path, ["doctor"], change=misspell)
    assert result.exit_code == 1
    line = next(out for out in result.stdout.splitlines() if "statuses.clarification" in out and out.startswith("FAIL"))
    assert "'Clarification requried' exists — fix: set statuses.clarification to one of:" in line
    assert "Clarification required / On hold" in line


def test_doctor_names_an_unknown_delivery_link_type(site_factory, tmp_path):
    site = populated_site(site_factory)

    def misspell(data):
        data.setdefault("deliveries", {})["link_type"] = "Includes"

    result = run(site, tmp_path, ["doctor"], change=misspell)
    assert result.exit_code == 1
    line = next(out for out in result.stdout.splitlines() if "deliveries.link_type" in out)
    assert line.startswith("FAIL") and "set deliveries.link_type to one of: Blocks, Cloners, Duplicate, Relates" in line


def test_doctor_reports_foreign_credentials_and_an_unknown_field(site_factory, tmp_path):
    site = populated_site(site_factory)

    def wrong(data):
        data["automation"]["account"] = "someone-else"
        data["fields"]["confidential"] = "customfield_99999"

    lines = run(site, tmp_path, ["doctor"], change=wrong).stdout
    assert "FAIL  automation.account is the account of these credentials" in lines
    assert "FAIL  fields.confidential: customfield_99999 exists" in lines


def test_doctor_without_credentials_is_bad_input(site_factory, tmp_path):
    site = populated_site(site_factory)
    result = run(site, tmp_path, ["doctor"], env={"JIRA_URL": ""})
    assert result.exit_code == 2 and "JIRA_URL" in result.stderr


def test_doctor_accepts_the_shipped_app_yaml_as_it_is(site_factory):
    import requests

    from tests.conftest import ROOT

    site = site_factory(T0 - timedelta(days=1))
    shipped = yaml.safe_load((ROOT / "app.yaml").read_text(encoding="utf-8"))
    # The sandbox's automation user is the account the shipped app.yaml names.
    requests.post(f"{site.url}/_sandbox/seed", json={"users": [{"email": BOT, "accountId": shipped["automation"]["account"]}]}).raise_for_status()
    for status in ("Clarification required / On hold", "Resolved"):
        site.move(site.create(), status)
    seed_organisations(site)
    environment = {"JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
                   "JSM_AUTOPILOT_WEBHOOK_SECRET": "hook-secret", "JSM_AUTOPILOT_PUBLIC_URL": "http://127.0.0.1:9"}
    runner = CliRunner()
    runner.invoke(main, ["webhook", "register", "--url", "http://127.0.0.1:9/webhooks/jira", "--config", str(ROOT / "app.yaml")], env=environment)
    result = runner.invoke(main, ["doctor", "--config", str(ROOT / "app.yaml")], env=environment)
    assert result.exit_code == 0, result.stdout


def test_doctor_probe_tries_the_service_s_assumptions_on_the_site(site_factory, tmp_path):
    site = populated_site(site_factory)
    run(site, tmp_path, ["webhook", "register", "--url", "http://127.0.0.1:9/webhooks/jira"])
    before = set(site.state.issues)
    result = run(site, tmp_path, ["doctor", "--probe"])
    assert result.exit_code == 0, result.stdout
    probe = [line for line in result.stdout.splitlines() if "probe:" in line]
    assert [line.split()[0] for line in probe] == ["ok"] * 6 + ["warn"], probe
    assert "the comment written with the firing log is public" in probe[1] and "the audit note is internal" in probe[2]
    assert "'Resolved'" in probe[4] and "'Closed'" in probe[5]
    assert "could not be deleted (Jira answered 403" in probe[-1]
    (left,) = set(site.state.issues) - before
    assert site.state.issue(left).status == "Closed" and site.state.issue(left).resolution == "Done"
    # An account allowed to delete issues leaves nothing behind.
    site.state.project_admins.add(site.state.user(BOT).account_id)
    again = run(site, tmp_path, ["doctor", "--probe"])
    assert again.stdout.splitlines()[-2].startswith("ok    probe: deleted")
    assert set(site.state.issues) - before == {left}


def test_doctor_probe_fails_where_the_site_makes_comments_internal(site_factory, tmp_path):
    """A site whose platform comments default to internal (a JSM setting) would hide reminders."""
    site = populated_site(site_factory)
    original = site.state.add_comment

    def internal_by_default(issue, author, text, public=True, properties=None, visibility=None):
        return original(issue, author, text, False, {"sd.public.comment": {"internal": True}}, visibility)

    site.state.add_comment = internal_by_default
    lines = run(site, tmp_path, ["doctor", "--probe"]).stdout.splitlines()
    assert any(line.startswith("FAIL") and "is public" in line for line in lines)


def test_doctor_probe_on_data_center_reads_visibility_from_the_comment_property(site_factory, tmp_path):
    site = site_factory(T0 - timedelta(days=1), deployment="datacenter")
    seed_organisations(site)
    pat = site.personal_access_token(BOT)
    result = run(site, tmp_path, ["doctor", "--probe"], env={"JIRA_USER": "", "JIRA_API_TOKEN": "", "JIRA_PAT": pat})
    probe = [line for line in result.stdout.splitlines() if "probe:" in line]
    assert [line.split()[0] for line in probe] == ["ok"] * 6 + ["warn"], probe
