"""`jsm-autopilot events` and `events replay` on the store named by JSM_AUTOPILOT_DB."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

import jsm_autopilot.cli.live  # noqa: F401  (registers the commands)
from jsm_autopilot.cli.main import main
from jsm_autopilot.store.event_store import EventStore

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)


def prepared_store(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    store = EventStore(url)
    store.migrate()
    for n, issue in enumerate(["SD-1", "SD-2", "SD-3"]):
        store.add(f"id-{n}", "comment_created", issue, b"{}", True, T0 + timedelta(seconds=n))
    store.fail(store.claim("w", T0 + timedelta(minutes=1), timedelta(minutes=5)), T0, "GET issue/SD-1 -> 403: no permission")
    store.dispose()
    return url


def run(url: str, *args: str):
    return CliRunner().invoke(main, ["events", *args], env={"JSM_AUTOPILOT_DB": url})


def test_events_json_lists_every_event_with_its_state(tmp_path):
    url = prepared_store(tmp_path)
    listed = json.loads(run(url, "--json").stdout)
    assert {"identifier", "event", "issue", "status", "received", "error"} <= set(listed[0])
    assert {e["identifier"]: e["status"] for e in listed} == {"id-0": "failed", "id-1": "pending", "id-2": "pending"}
    failed = json.loads(run(url, "--failed", "--json").stdout)
    assert [(e["identifier"], e["error"]) for e in failed] == [("id-0", "GET issue/SD-1 -> 403: no permission")]


def test_events_readable_listing_shows_the_reason(tmp_path):
    result = run(prepared_store(tmp_path), "--failed")
    assert result.exit_code == 0 and "id-0" in result.stdout and "no permission" in result.stdout


def test_replay_by_identifier_and_all_failed(tmp_path):
    url = prepared_store(tmp_path)
    assert run(url, "replay", "id-0").stdout.strip() == "1 event(s) queued again."
    assert json.loads(run(url, "--failed", "--json").stdout) == []
    assert run(url, "replay", "--failed").stdout.strip() == "0 event(s) queued again."


def test_replay_of_an_unknown_identifier_names_it_in_one_line(tmp_path):
    url = prepared_store(tmp_path)
    unknown = run(url, "replay", "no-such-id")
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert unknown.stderr == "events replay: no stored event with identifier 'no-such-id' (jsm-autopilot events lists them)\n"
    store = EventStore(url)
    assert {e.identifier: e.status for e in store.list_events()} == {"id-0": "failed", "id-1": "pending", "id-2": "pending"}

    # One a worker holds right now is known, but not queued again: said, exit 1.
    held = store.claim("w", T0 + timedelta(minutes=1), timedelta(minutes=5))
    store.dispose()
    busy = run(url, "replay", held.identifier)
    assert busy.exit_code == 1 and f"event {held.identifier!r} is being processed now" in busy.stderr and busy.stdout == ""


def test_replay_needs_an_identifier_or_failed(tmp_path):
    result = run(prepared_store(tmp_path), "replay")
    assert result.exit_code == 2 and "identifier or --failed" in result.stderr


def test_audit_offers_every_outcome_the_trail_records():
    """cli/audit.py writes the outcomes out (importing the store would slow every command's start)."""
    from jsm_autopilot.cli.audit import OUTCOME_CHOICES
    from jsm_autopilot.store.audit import OUTCOMES

    assert tuple(OUTCOME_CHOICES.choices) == OUTCOMES
