"""A store or state directory that cannot be written: every command that writes the store says so
in one line (the path, JSM_AUTOPILOT_DB, the fix) and exits 2, before it does anything else.

Root ignores file modes (ISSUE-NOTES, "Root ignores chmod"): a chmod case runs the real command as
the unprivileged uid 65534; a read-only file system is a read-only bind mount in a mount
namespace of its own (`unshare -m`), which nothing outside the command sees."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jsm_autopilot.store.event_store import EventStore
from tests.conftest import ROOT
from tests.delivery_site import ACME
from tests.site import BOT
from tests.test_sweep_cli import config_for
from tests.test_triage_learning import labelled, type_name

SCRIPT = Path(sys.executable).parent / "jsm-autopilot"
NOBODY = 65534
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def as_nobody(command: list[str]) -> list[str]:
    """The command as uid and gid 65534 with no supplementary groups."""
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


def read_only(directory: Path, command: list[str]) -> list[str]:
    """The command with `directory` mounted read-only, in a mount namespace of its own."""
    return ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(directory), *command]


@pytest.fixture
def shared_directory():
    """A directory uid 65534 may read (pytest's tmp_path lies under a directory only root may enter)."""
    directory = Path(tempfile.mkdtemp(prefix="jsm-autopilot-test-", dir="/tmp"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


def jira_environment(site, **more: str) -> dict[str, str]:
    environment = {"PATH": os.environ["PATH"], "JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": ""}
    return {**environment, **more}


def assert_one_line(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr == expected + "\n", done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_serve_with_a_state_directory_chmod_read_only(site_factory, shared_directory):
    """The default store (no JSM_AUTOPILOT_DB): $XDG_STATE_HOME/jsm-autopilot, owned by the
    service's account but chmod 555."""
    from tests.test_serve_process import free_port

    site = site_factory(T0)
    state = shared_directory / "state" / "jsm-autopilot"
    state.mkdir(parents=True)
    os.chown(state, NOBODY, NOBODY)
    state.chmod(0o555)
    environment = jira_environment(site, HOME=str(shared_directory), XDG_STATE_HOME=str(shared_directory / "state"),
                                   JSM_AUTOPILOT_WEBHOOK_SECRET="secret")
    done = subprocess.run(as_nobody([str(SCRIPT), "serve", "--port", str(free_port()), "--config", str(ROOT / "app.yaml")]),
                          env=environment, capture_output=True, text=True, timeout=60)
    assert_one_line(done, f"serve: cannot write the store at {state / 'jsm-autopilot.db'} (permission denied): set JSM_AUTOPILOT_DB "
                          f"to a writable path, or make {state} writable")
    assert list(state.iterdir()) == []


def test_delivery_create_on_a_read_only_file_system_writes_nothing_to_jira(shop):
    """The store `serve` made, on a file system mounted read-only: refused before Jira is asked,
    and the same command with the same store writable creates the Delivery ticket."""
    directory = shop.tmp_path
    command = [str(SCRIPT), "delivery", "create", "--organisation", ACME, "--version", "14.21.3.1",
               "--config", str(config_for(shop.site, directory))]
    environment = jira_environment(shop.site, JSM_AUTOPILOT_DB=f"sqlite:///{directory / 'autopilot.db'}")
    asked = len(shop.site.requests_made())
    done = subprocess.run(read_only(directory, command), env=environment, capture_output=True, text=True, timeout=120)
    assert_one_line(done, f"delivery create: cannot write the store at {directory / 'autopilot.db'} (read-only file system): set "
                          f"JSM_AUTOPILOT_DB to a writable path, or make {directory} writable")
    assert shop.site.requests_made()[asked:] == [], "Jira was not asked anything"
    assert shop.deliveries() == []

    writable = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert writable.returncode == 0, writable.stderr
    assert len(shop.deliveries()) == 1


def test_triage_learn_with_a_read_only_store_file_says_so_before_it_reads_jira(site_factory, shared_directory):
    """JSM_AUTOPILOT_DB names a store file chmod 444 in a directory the account may write: refused
    at once; once the file is writable again, the same account learns and stores the model."""
    site = site_factory(T0)
    site.seed({"issues": [{"type": type_name(site.settings, t["role"]), "summary": t["summary"], "description": t["description"],
                           "reporter": "claire@acme.example", "created": (T0 - timedelta(days=30)).isoformat()} for t in labelled("history")]})
    os.chown(shared_directory, NOBODY, NOBODY)
    database = shared_directory / "store.db"
    made = EventStore(f"sqlite:///{database}")
    made.migrate()
    made.dispose()  # its write-ahead log goes with its last connection
    os.chown(database, NOBODY, NOBODY)
    database.chmod(0o444)
    command = as_nobody([str(SCRIPT), "triage", "learn", "--jql", 'project = "SD"', "--config", str(ROOT / "app.yaml")])
    environment = jira_environment(site, HOME=str(shared_directory), JSM_AUTOPILOT_DB=f"sqlite:///{database}")
    asked = len(site.requests_made())
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert_one_line(done, f"triage learn: cannot write the store at {database} (permission denied): set JSM_AUTOPILOT_DB to a "
                          f"writable path, or make {database} writable")
    assert site.requests_made()[asked:] == [], "Jira was not asked anything"

    database.chmod(0o644)
    learned = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert learned.returncode == 0, learned.stderr
    assert EventStore(f"sqlite:///{database}", create=False).learned("triage") is not None
