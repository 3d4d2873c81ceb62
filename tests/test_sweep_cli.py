"""`jsm-autopilot sweep --once`: exit codes and output, against the sandbox."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import requests
import yaml
from click.testing import CliRunner

import jsm_autopilot.cli.live  # noqa: F401  (registers the command)
from jsm_autopilot.cli.main import main
from tests.site import AGENT, BOT, site_with_due_reminder

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def config_for(site, tmp_path):
    data = yaml.safe_load(site.settings.model_dump_json())
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run(site, tmp_path, *args):
    # No store where JSM_AUTOPILOT_DB points: the sweep records nowhere, and never in this machine's own.
    env = {"JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "", "JSM_AUTOPILOT_LOCK_DIR": str(tmp_path),
           "JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'no-store.db'}"}
    return CliRunner().invoke(main, ["sweep", *args, "--config", str(config_for(site, tmp_path))], env=env)


def test_sweep_once_applies_and_reports(site_factory, tmp_path):
    site, key = site_with_due_reminder(site_factory, T0)
    result = run(site, tmp_path, "--once")
    assert result.exit_code == 0, result.output
    assert f"{key}" in result.stdout and "clarification.reminder" in result.stdout and "applied" in result.stdout
    assert "1 firing(s) applied" in result.stdout
    assert len(site.comments_by_bot(key, public=True)) == 1


def test_sweep_json_and_dry_run(site_factory, tmp_path):
    site, key = site_with_due_reminder(site_factory, T0)
    result = run(site, tmp_path, "--once", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is True and report["firings_planned"] == 1
    assert report["firings"][0]["issue"] == key and report["firings"][0]["state"] == "planned"
    assert site.comments_by_bot(key) == []


def test_sweep_at_a_given_time(site_factory, tmp_path):
    site, key = site_with_due_reminder(site_factory, T0)
    result = run(site, tmp_path, "--once", "--json", "--at", (T0 + timedelta(days=3)).isoformat())
    assert json.loads(result.stdout)["firings_planned"] == 0


def test_a_failed_ticket_makes_the_exit_status_one(site_factory, tmp_path):
    site, key = site_with_due_reminder(site_factory, T0)
    requests.put(site.api(f"issue/{key}/properties/jsm-autopilot"), json={"firings": 7}, auth=(AGENT, "t")).raise_for_status()
    result = run(site, tmp_path, "--once")
    assert result.exit_code == 1
    assert "failed:" in result.stdout and key in result.stdout


def test_sweep_without_once_or_credentials_is_bad_input(site_factory, tmp_path):
    site, _ = site_with_due_reminder(site_factory, T0)
    assert run(site, tmp_path).exit_code == 2
    result = CliRunner().invoke(main, ["sweep", "--once", "--config", str(config_for(site, tmp_path))],
                                env={"JIRA_URL": "", "JIRA_USER": "", "JIRA_API_TOKEN": "", "JIRA_PAT": ""})
    assert result.exit_code == 2 and "JIRA_URL" in result.stderr


def test_a_second_sweep_of_the_same_project_waits_its_turn(site_factory, tmp_path, monkeypatch):
    from jsm_autopilot.connector.exclusive import exclusive_sweep

    site, key = site_with_due_reminder(site_factory, T0)
    monkeypatch.setenv("JSM_AUTOPILOT_LOCK_DIR", str(tmp_path))
    with exclusive_sweep(site.settings.project.key):
        result = run(site, tmp_path, "--once")
    assert result.exit_code == 1
    assert "another sweep of SD is running" in result.stderr
    assert site.comments_by_bot(key) == []
    assert run(site, tmp_path, "--once").exit_code == 0
