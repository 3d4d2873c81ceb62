"""`jsm-autopilot sweep --once` as a real process: its firings go to the audit trail of serve's
store when there is one (never making one), and Ctrl-C finishes the tickets in hand, lists every
firing applied, and applies nothing twice or by halves."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

from jsm_autopilot.store.event_store import EventStore
from tests.test_serve_process import site_with_due_reminders
from tests.test_sweep_cli import config_for

SCRIPT = Path(sys.executable).parent / "jsm-autopilot"
RULE = "clarification.reminder"
FIRING_LINE = re.compile(rf"^(SD-\d+)\s+{re.escape(RULE)}\s+applied\s")


def environment(site, tmp_path, database: Path) -> dict[str, str]:
    return {**os.environ, "JIRA_URL": site.url, "JIRA_USER": "autopilot@vendor.example", "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
            "JSM_AUTOPILOT_DB": f"sqlite:///{database}", "JSM_AUTOPILOT_LOCK_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}


def command(site, tmp_path, *arguments: str) -> list[str]:
    return [str(SCRIPT), *arguments, "--config", str(config_for(site, tmp_path))]


def firings_in_jira(site, key: str) -> tuple[int, int, int]:
    """(entries of the firing log, public comments, internal notes) the automation left on the ticket."""
    logged = ((site.issue(key).get("properties") or {}).get("jsm-autopilot") or {}).get("firings", [])
    return len(logged), len(site.comments_by_bot(key, public=True)), len(site.comments_by_bot(key, public=False))


def test_a_sweep_records_its_firings_in_the_store_of_serve_and_never_makes_one(site_factory, tmp_path):
    site, keys = site_with_due_reminders(site_factory, 3)
    database = tmp_path / "events.db"
    env = environment(site, tmp_path, database)

    alone = subprocess.run(command(site, tmp_path, "sweep", "--once", "--issue", keys[0]), env=env, capture_output=True, text=True,
                           timeout=120)
    assert alone.returncode == 0, alone.stderr
    assert firings_in_jira(site, keys[0]) == (1, 1, 1) and not database.exists(), "no store: none is made for a sweep"

    made = EventStore(f"sqlite:///{database}")  # as `serve` makes it
    made.migrate()
    made.dispose()
    swept = subprocess.run(command(site, tmp_path, "sweep", "--once", "--json"), env=env, capture_output=True, text=True, timeout=120)
    assert swept.returncode == 0, swept.stderr
    printed = {f["issue"]: f["actions"][0]["reason"] for f in json.loads(swept.stdout)["firings"]}
    assert sorted(printed) == keys[1:]

    audit = subprocess.run([str(SCRIPT), "audit", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0, audit.stderr
    recorded = json.loads(audit.stdout)
    assert sorted((f["issue"], f["rule"], f["outcome"], f["source"]) for f in recorded) == [(key, RULE, "applied", "sweep") for key in keys[1:]]
    assert {f["issue"]: f["reason"] for f in recorded} == printed
    readable = subprocess.run([str(SCRIPT), "audit"], env=env, capture_output=True, text=True, timeout=60).stdout
    assert all(reason in readable for reason in printed.values())


def test_ctrl_c_finishes_the_tickets_in_hand_and_lists_every_firing_applied(site_factory, tmp_path):
    site, keys = site_with_due_reminders(site_factory, 24)
    database = tmp_path / "events.db"
    made = EventStore(f"sqlite:///{database}")
    made.migrate()
    made.dispose()
    # Every call takes 100 ms, as across an ocean: the sweep is still busy when Ctrl-C comes.
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0, "latency_ms": 100}).raise_for_status()
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        sweep = subprocess.Popen(command(site, tmp_path, "sweep", "--once"), env=environment(site, tmp_path, database),
                                 stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in sweep.stdout] and None, daemon=True)
    reader.start()
    printed = []
    while not printed or not FIRING_LINE.match(printed[-1]):
        printed.append(lines.get(timeout=120))
    sweep.send_signal(signal.SIGINT)
    assert sweep.wait(timeout=120) == 130
    reader.join(timeout=10)
    while not lines.empty():
        printed.append(lines.get())
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0}).raise_for_status()

    listed = [FIRING_LINE.match(line).group(1) for line in printed if FIRING_LINE.match(line)]
    said = errors.read_text()
    assert "Traceback" not in said and "Traceback" not in "".join(printed)
    assert "sweep: Ctrl-C: finishing the tickets in hand, then stopping" in said
    assert f"sweep: interrupted (Ctrl-C) after the tickets in hand: {len(listed)} firing(s) applied" in said
    assert any(f"{len(listed)} firing(s) applied" in line for line in printed), printed
    in_jira = {key: firings_in_jira(site, key) for key in keys}
    applied = sorted(key for key, found in in_jira.items() if found != (0, 0, 0))
    assert sorted(listed) == applied, "every firing applied is listed, once"
    assert 1 <= len(applied) < len(keys), "it stopped before the end"
    assert all(in_jira[key] == (1, 1, 1) for key in applied), "each applied whole: its log entry, its comment and its note, once"
    audit = subprocess.run([str(SCRIPT), "audit", "--json"], env=environment(site, tmp_path, database), capture_output=True, text=True,
                           timeout=60)
    assert sorted(f["issue"] for f in json.loads(audit.stdout)) == applied

    # The next sweep does the rest, and nothing twice.
    rest = subprocess.run(command(site, tmp_path, "sweep", "--once"), env=environment(site, tmp_path, database), capture_output=True,
                          text=True, timeout=120)
    assert rest.returncode == 0, rest.stderr
    assert all(firings_in_jira(site, key) == (1, 1, 1) for key in keys)


def test_once_stopped_a_sweep_starts_no_ticket_that_waits_for_a_thread(site_factory):
    """The tickets in hand are those being worked on (limits.concurrency at once): one queued for a
    thread when the stop comes is left for the next sweep, not started."""
    from jsm_autopilot.connector.sweep import sweep_once

    site, keys = site_with_due_reminders(site_factory, 24)
    assert site.settings.limits.concurrency == 4
    stop = threading.Event()
    report = sweep_once(site.client(), site.settings, stop=stop, on_firing=lambda actions, outcome: stop.set())
    assert 1 <= report.firings_applied <= 4, report.firings_applied
    applied = [key for key in keys if firings_in_jira(site, key) != (0, 0, 0)]
    assert len(applied) == report.firings_applied and all(firings_in_jira(site, key) == (1, 1, 1) for key in applied)
