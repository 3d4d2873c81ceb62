"""app.yaml validation and `jsm-autopilot check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from jsm_autopilot.cli.main import main
from jsm_autopilot.config.environment import jira_credentials
from jsm_autopilot.config.loader import load_settings, settings_from_mapping
from jsm_autopilot.errors import CredentialsError, SettingsError
from tests.conftest import GERMAN_STATUSES, ROOT, shipped_settings_data


def first_problem(stderr: str) -> str:
    """The first problem `check` lists, under the line that names the file."""
    return stderr.splitlines()[1].strip()

def write_config(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run_check(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["check", *args], env=env)


def test_check_accepts_the_shipped_file_and_summarises_the_numbers():
    result = run_check("--config", str(ROOT / "app.yaml"))
    assert result.exit_code == 0, result.stderr
    assert "clarification.reminder" in result.stdout
    assert "10d, 20d, 30d" in result.stdout
    assert "40d in all" in result.stdout
    assert "close 50d after 'Resolved'" in result.stdout
    from jsm_autopilot.rules.catalogue import RULES

    planned = [rule.id for rule in RULES if not rule.implemented]
    shown = " ".join(result.stdout.split())
    assert f"Planned, not implemented yet ({len(planned)}): {', '.join(planned) or 'none'} " in shown
    assert not any(f"\n{rule_id} " in result.stdout for rule_id in planned), "a planned rule shows as on"


def test_check_refuses_a_timer_that_is_not_a_duration_naming_the_key(tmp_path):
    data = shipped_settings_data()
    data["timers"]["clarification"]["reminder_every"] = "banana"
    config = write_config(tmp_path, data)
    result = run_check("--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{config}: 1 problem(s)",
        "  timers.clarification.reminder_every: expected a duration like 10d, 2w, 12h, 30m or 30s, got 'banana'",
    ]


def test_check_reports_one_line_per_problem(tmp_path):
    data = shipped_settings_data()
    data["timers"]["resolved"]["close_after"] = "0d"
    data["timers"]["clarification"]["reminders"] = 0
    data["statuses"]["closd"] = "Closed"
    data["project"]["timezone"] = "Mars/Olympus"
    header, *lines = run_check("--config", str(write_config(tmp_path, data))).stderr.splitlines()
    assert header.endswith(": 4 problem(s)") and len(lines) == 4
    assert {line.strip().split(":")[0] for line in lines} == {
        "timers.resolved.close_after",
        "timers.clarification.reminders",
        "statuses.closd",
        "project.timezone",
    }


def test_check_reads_the_file_named_by_the_environment(tmp_path):
    data = shipped_settings_data()
    data["project"]["key"] = "lowercase"
    path = write_config(tmp_path, data)
    result = run_check(env={"JSM_AUTOPILOT_CONFIG": str(path)})
    assert result.exit_code == 2
    assert first_problem(result.stderr).startswith("project.key:")


def test_check_names_the_line_of_broken_yaml(tmp_path):
    result = run_check("--config", str(write_config(tmp_path, "project:\n  key: SD\n   timezone: [\n")))
    assert result.exit_code == 2
    assert first_problem(result.stderr).startswith("line 3, column")


def test_check_says_when_the_file_is_missing(tmp_path):
    result = run_check("--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "cannot read it" in result.stderr


def test_the_console_script_is_installed_and_exits_two_on_a_broken_file(tmp_path):
    data = shipped_settings_data()
    data["timers"]["clarification"]["reminder_every"] = "banana"
    path = write_config(tmp_path, data)
    script = Path(sys.executable).parent / "jsm-autopilot"
    done = subprocess.run([str(script), "check", "--config", str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert first_problem(done.stderr).startswith("timers.clarification.reminder_every:")


@pytest.mark.parametrize("key", ["token", "api_token", "password"])
def test_secrets_in_app_yaml_are_refused(key):
    data = shipped_settings_data()
    data["jira"] = {key: "hunter2"}
    with pytest.raises(SettingsError) as refused:
        settings_from_mapping(data)
    assert refused.value.problems[0].startswith(f"jira.{key}: secrets do not belong in app.yaml")
    assert "hunter2" not in str(refused.value)


def test_an_unknown_rule_cannot_be_switched_on(tmp_path):
    """Checked at start-up against the catalogue (the settings package knows no rules, issue 30)."""
    from jsm_autopilot.cli.common import site_settings

    data = shipped_settings_data()
    data["rules"]["enabled"].append("delivery.teleport")
    with pytest.raises(SettingsError, match="rules.enabled: unknown rule 'delivery.teleport'"):
        site_settings(write_config(tmp_path, data))
    result = run_check("--config", str(tmp_path / "app.yaml"))
    assert result.exit_code == 2 and "rules.enabled: unknown rule 'delivery.teleport'" in result.stderr


def test_a_planned_rule_cannot_be_switched_on_and_no_list_means_every_implemented_rule(tmp_path):
    from jsm_autopilot.cli.common import site_settings
    from jsm_autopilot.rules.catalogue import RULES

    planned = next(rule.id for rule in RULES if not rule.implemented)
    data = shipped_settings_data()
    data["rules"]["enabled"].append(planned)
    with pytest.raises(SettingsError, match=f"rules.enabled: rule '{planned}' is not implemented yet"):
        site_settings(write_config(tmp_path, data))
    del data["rules"]
    assert site_settings(write_config(tmp_path, data)).rules.enabled == [rule.id for rule in RULES if rule.implemented]


def test_hand_back_cannot_point_at_resolved():
    data = shipped_settings_data()
    data["statuses"]["hand_back_to"] = "Resolved"
    with pytest.raises(SettingsError, match="hand_back_to"):
        settings_from_mapping(data)


def test_a_german_site_needs_only_other_names():
    data = shipped_settings_data()
    data["statuses"] = GERMAN_STATUSES
    settings = settings_from_mapping(data)
    assert settings.statuses.planned == "Geplant"


def test_durations_combine_units():
    data = shipped_settings_data()
    data["timers"]["resolved"]["close_after"] = "1w 1d12h"
    close_after = settings_from_mapping(data).timers.resolved.close_after
    assert (close_after.days, close_after.seconds) == (8, 12 * 3600)


class TestTemplates:
    def test_an_admin_directory_overrides_the_wording(self, tmp_path):
        (tmp_path / "wording" / "en").mkdir(parents=True)
        (tmp_path / "wording" / "en" / "clarification_reminder.txt").write_text(
            "Hello again about {{ key }}, reminder {{ reminder_number }}.", encoding="utf-8"
        )
        data = shipped_settings_data()
        data["templates"]["directory"] = "wording"
        settings = load_settings(write_config(tmp_path, data))
        text = settings.texts.render("en", "clarification_reminder", key="SD-9", reminder_number=2, reminders_total=3, days_waiting=20, close_date=None)
        assert text == "Hello again about SD-9, reminder 2."
        # The German wording is still the shipped one.
        assert "Erinnerung" in settings.texts.sources[("de", "clarification_reminder")]

    def test_a_template_with_an_unknown_variable_fails_check(self, tmp_path):
        (tmp_path / "wording" / "de").mkdir(parents=True)
        (tmp_path / "wording" / "de" / "resolved_close.txt").write_text("Ticket {{ summary }} geschlossen", encoding="utf-8")
        data = shipped_settings_data()
        data["templates"]["directory"] = "wording"
        result = run_check("--config", str(write_config(tmp_path, data)))
        assert result.exit_code == 2
        assert first_problem(result.stderr).startswith("templates.directory: de/resolved_close.txt")
        assert "summary" in result.stderr


class TestEnvironment:
    def test_cloud_credentials_come_from_the_environment(self):
        credentials = jira_credentials({"JIRA_URL": "https://x.atlassian.net/", "JIRA_USER": "bot@x.com", "JIRA_API_TOKEN": "s3cret"})
        assert credentials.url == "https://x.atlassian.net" and credentials.kind == "api-token"
        assert "s3cret" not in repr(credentials)

    def test_data_center_uses_a_personal_access_token(self):
        credentials = jira_credentials({"JIRA_URL": "https://jira.example.com", "JIRA_PAT": "pat-value"})
        assert credentials.kind == "pat" and "pat-value" not in repr(credentials)

    def test_missing_variables_are_named(self):
        with pytest.raises(CredentialsError, match="JIRA_USER, JIRA_API_TOKEN"):
            jira_credentials({"JIRA_URL": "https://x.atlassian.net"})


def test_validation_speaks_the_admins_language_and_names_the_file(tmp_path):
    data = shipped_settings_data()
    data["project"]["key"] = "sd"
    del data["automation"]["account"]
    data["schedule"]["full_pass_at"] = 180  # what YAML makes of an unquoted 3:00
    data["regions"]["emea"]["hours"]["start"] = "8"
    config = write_config(tmp_path, data)
    result = run_check("--config", str(config))
    assert result.exit_code == 2
    said = result.stderr
    assert said.splitlines()[0] == f"{config}: 4 problem(s)"
    assert "project.key: an upper-case Jira project key like SD, got 'sd'" in said
    assert "automation.account: required (the automation's accountId on Cloud" in said
    assert 'schedule.full_pass_at: write it in quotes: "03:00"' in said
    assert 'regions.emea.hours.start: expected HH:MM, like "03:00", got \'8\'' in said
    missing = run_check("--config", str(tmp_path / "absent.yaml"))
    assert missing.exit_code == 2 and str(tmp_path / "absent.yaml") in missing.stderr


@pytest.mark.parametrize("config", sorted((ROOT / "examples" / "config").glob("*.yaml")) + [ROOT / "app.yaml"], ids=lambda p: p.name)
def test_every_example_configuration_passes_check(config):
    result = run_check("--config", str(config))
    assert result.exit_code == 0, result.stderr
    assert "valid." in result.stdout


def test_check_warns_when_an_enabled_rule_or_notify_lacks_what_it_needs_from_the_environment(tmp_path):
    """Issue 29 item 4: oncall.alert on with neither on-call variable set would fail at the first
    serious incident; `check` says so before that (and stays exit 0: the file is valid)."""
    data = shipped_settings_data()
    data["notify"] = {"webhook": {"format": "teams"}}
    config = str(write_config(tmp_path, data))
    bare = {"JSM_AUTOPILOT_ONCALL_URL": "", "JSM_AUTOPILOT_JSM_OPS_API_KEY": "", "JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL": ""}
    result = run_check("--config", config, env=bare)
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2
    assert "oncall.alert is on but neither JSM_AUTOPILOT_ONCALL_URL nor JSM_AUTOPILOT_JSM_OPS_API_KEY is set" in warnings[0]
    assert warnings[1].startswith("warning: notify.webhook is set but JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL is not")
    given = run_check("--config", config, env={**bare, "JSM_AUTOPILOT_JSM_OPS_API_KEY": "key",
                                                 "JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL": "https://hooks.example/x"})
    assert "warning:" not in given.stdout
    data["rules"]["enabled"].remove("oncall.alert")
    data.pop("notify")
    assert "warning:" not in run_check("--config", str(write_config(tmp_path, data)), env=bare).stdout
