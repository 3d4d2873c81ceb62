"""`jsm-autopilot plan`: offline evaluation of a saved search result."""

from __future__ import annotations

import copy
import json
import tempfile
from functools import lru_cache
from pathlib import Path

import yaml
from click.testing import CliRunner

from jsm_autopilot.cli.main import main
from tests.conftest import ROOT, shipped_settings_data, without_hours_window
from tests.example_issues import EXAMPLE_AT, example_issues

EXAMPLE = ROOT / "examples" / "search-jql.json"


@lru_cache(maxsize=1)
def _config_without_hours_window() -> Path:
    """The shipped app.yaml but for hours.window: these tests are about the timer situations at
    EXAMPLE_AT, which is night in Melbourne; tests/test_hours.py plans with the window on."""
    directory = Path(tempfile.mkdtemp(prefix="plan-config-"))
    config = directory / "app.yaml"
    config.write_text(yaml.safe_dump(without_hours_window(shipped_settings_data()), allow_unicode=True), encoding="utf-8")
    return config


def run_plan(*args: str):
    return CliRunner().invoke(main, ["plan", "--config", str(_config_without_hours_window()), *args])


def test_plan_prints_reminders_and_closures_with_rule_ids_and_reasons():
    result = run_plan("--issues", str(EXAMPLE), "--at", EXAMPLE_AT)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for expected in ("SD-101", "clarification.reminder", "SD-102", "clarification.close", "SD-104", "resolved.close", "no customer feedback since"):
        assert expected in out
    assert "SD-107" not in out and "SD-109" not in out


def test_plan_json_has_one_object_per_action():
    result = run_plan("--issues", str(EXAMPLE), "--at", EXAMPLE_AT, "--json")
    assert result.exit_code == 0, result.stderr
    actions = json.loads(result.stdout)
    assert all({"issue", "rule", "kind", "reason"} <= set(a) for a in actions)
    firings = {(a["issue"], a["rule"], a["kind"]) for a in actions}
    assert ("SD-101", "clarification.reminder", "public_comment") in firings
    assert ("SD-102", "clarification.close", "transition") in firings
    assert ("SD-103", "clarification.reset", "internal_comment") in firings
    assert ("SD-104", "resolved.close", "transition") in firings
    assert ("SD-105", "resolved.confirm", "transition") in firings
    assert ("SD-106", "resolved.confirm", "transition") in firings
    assert ("SD-108", "clarification.reminder", "public_comment") in firings
    german = next(a for a in actions if a["issue"] == "SD-108" and a["kind"] == "public_comment")
    assert german["language"] == "de" and "Dies ist die zweite von drei Erinnerungen." in german["body"]
    assert {a["issue"] for a in actions}.isdisjoint({"SD-107", "SD-109"})


def test_plan_at_an_earlier_time_has_less_to_do():
    result = run_plan("--issues", str(EXAMPLE), "--at", "2026-11-17T09:00:00+01:00", "--json")
    issues = {a["issue"] for a in json.loads(result.stdout)}
    assert "SD-101" not in issues  # its first reminder is due on the 18th


def _write(tmp_path: Path, document) -> Path:
    path = tmp_path / "issues.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def test_a_malformed_issue_exits_two_naming_issue_and_field(tmp_path):
    issues = copy.deepcopy(example_issues())
    del issues[2]["fields"]["status"]
    result = run_plan("--issues", str(_write(tmp_path, {"issues": issues})), "--at", EXAMPLE_AT)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("SD-103: fields.status: missing")
    assert result.stdout == ""


def test_invalid_json_exits_two_with_the_position(tmp_path):
    result = run_plan("--issues", str(_write(tmp_path, '{"issues": [')), "--at", EXAMPLE_AT)
    assert result.exit_code == 2
    assert "not valid JSON: line 1" in result.stderr


def test_a_file_that_is_not_a_search_result_exits_two(tmp_path):
    result = run_plan("--issues", str(_write(tmp_path, [1, 2])), "--at", EXAMPLE_AT)
    assert result.exit_code == 2
    assert '{"issues": [...]}' in result.stderr


def test_a_time_without_zone_exits_two():
    result = run_plan("--issues", str(EXAMPLE), "--at", "2026-11-20T09:00:00")
    assert result.exit_code == 2
    assert "--at" in result.stderr and "no time zone" in result.stderr
