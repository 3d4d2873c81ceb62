"""A revoked or wrong token: Jira answers 401 on every resource, `serverInfo` included
(sandbox/REAL_JIRA.md). The commands say which variables hold the refused credentials and what to
do, in one line and exit 2, not "not a Jira site; check JIRA_URL"."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import requests

from tests.site import BOT, site_with_due_reminder
from tests.test_sweep_cli import config_for

SCRIPT = Path(sys.executable).parent / "jsm-autopilot"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
CLOUD_REFUSED = ("Jira refused the credentials in JIRA_USER/JIRA_API_TOKEN (401 from {url}): check JIRA_USER (the account's e-mail), "
                 "or create a new API token at id.atlassian.com and set it in JIRA_API_TOKEN")


def run(site, tmp_path, *arguments: str, **environment: str) -> subprocess.CompletedProcess:
    base = {**os.environ, "JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token",
            "JIRA_PAT": "", "JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'none.db'}", "JSM_AUTOPILOT_LOCK_DIR": str(tmp_path)}
    return subprocess.run([str(SCRIPT), *arguments, "--config", str(config_for(site, tmp_path))], env={**base, **environment},
                          capture_output=True, text=True, timeout=120)


def test_a_revoked_api_token_names_jira_user_and_jira_api_token(site_factory, tmp_path):
    site, key = site_with_due_reminder(site_factory, T0)
    requests.post(f"{site.url}/_sandbox/credentials", json={"revoked": [BOT]}).raise_for_status()
    for command in (["sweep", "--once"], ["webhook", "list"]):
        done = run(site, tmp_path, *command)
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"{command[0]}{' ' + command[1] if command[0] == 'webhook' else ''}: " \
                              f"{CLOUD_REFUSED.format(url=site.url)}\n"
        assert "JIRA_URL" not in done.stderr and "not a Jira site" not in done.stderr and "Traceback" not in done.stderr
    doctor = run(site, tmp_path, "doctor")
    assert doctor.returncode == 1 and "Traceback" not in doctor.stdout + doctor.stderr
    assert "FAIL  credentials: Jira refused the credentials in JIRA_USER/JIRA_API_TOKEN (401) — fix: check JIRA_USER" in doctor.stdout
    assert site.comments_by_bot(key) == []

    # The same command, once Jira takes the token again: the credentials were all that was wrong.
    requests.post(f"{site.url}/_sandbox/credentials", json={"revoked": []}).raise_for_status()
    assert run(site, tmp_path, "sweep", "--once").returncode == 0
    assert len(site.comments_by_bot(key, public=True)) == 1


def test_a_wrong_personal_access_token_names_jira_pat_on_data_center(site_factory, tmp_path):
    site, _ = site_with_due_reminder(site_factory, T0, deployment="datacenter")
    done = run(site, tmp_path, "sweep", "--once", JIRA_USER="", JIRA_API_TOKEN="", JIRA_PAT="not-a-token")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == f"sweep: Jira refused the credentials in JIRA_PAT (401 from {site.url}): create a new personal access " \
                          f"token (profile > Personal access tokens) and set it in JIRA_PAT\n"
