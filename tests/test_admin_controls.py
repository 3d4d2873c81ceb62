"""Issue 17, part: what an admin expects of a running service and of the command itself."""

from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from click.testing import CliRunner

from jsm_autopilot.config.loader import load_settings
from tests.test_serve_process import ServeProcess, wait_for

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def test_the_command_alone_shows_the_usage_and_where_to_start():
    from jsm_autopilot.cli.main import main

    result = CliRunner().invoke(main, [])
    assert result.exit_code == 0 and "Usage:" in result.output and "jsm-autopilot demo" in result.output


def test_a_rule_switched_off_in_app_yaml_stops_at_the_next_event_and_a_broken_file_changes_nothing(site_factory, tmp_path, caplog):
    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore
    from tests.test_faults import waiting_tickets_due_a_reminder

    site = site_factory(T0)
    keys = waiting_tickets_due_a_reminder(site, 2)
    config = tmp_path / "app.yaml"
    data = yaml.safe_load(site.settings.model_dump_json())
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    service = Service(site.settings, store, site.client(), b"secret", reload_from=lambda: load_settings(config))
    worker = service.workers[0]
    worker.clock = lambda: datetime(2027, 1, 1, tzinfo=timezone.utc)

    broken = dict(data, schedule={"sweep_every": "15m", "full_pass_at": "3:00"})
    config.write_text(yaml.safe_dump(broken), encoding="utf-8")
    assert service.reload_settings() is False
    assert "schedule.full_pass_at" in caplog.text and "previous settings stay in force" in caplog.text
    assert service.settings.is_enabled("clarification.reminder")

    data["rules"]["enabled"] = [r for r in data["rules"]["enabled"] if r != "clarification.reminder"]
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert service.reload_settings() is True
    store.add("e1", "comment_created", keys[0], b"{}", True, datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert worker.run_once()
    assert site.comments_by_bot(keys[0], public=True) == []  # switched off: nothing sent
    store.dispose()


def reloads(log) -> list[str]:
    found = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "reload" in entry:
            found.append(entry["reload"])
    return found


@pytest.mark.parametrize("told_by", ["sighup", "watch-config"])
def test_serve_reloads_app_yaml_and_keeps_running_on_a_broken_one(site_factory, tmp_path, told_by):
    """On SIGHUP, or with `--watch-config` when the file changes, with no signal."""
    site = site_factory(T0)
    serve = ServeProcess(site, tmp_path)
    if told_by == "watch-config":
        serve.command.append("--watch-config")
    config = next(part for part in serve.command if part.endswith("app.yaml"))
    seen = [] if told_by == "sighup" else ["file changed"]
    serve.start()
    try:
        data = yaml.safe_load(open(config, encoding="utf-8"))
        data["rules"]["enabled"] = data["rules"]["enabled"][:3]
        open(config, "w", encoding="utf-8").write(yaml.safe_dump(data))
        if told_by == "sighup":
            serve.process.send_signal(signal.SIGHUP)
        wait_for(lambda: reloads(serve.log) == [*seen, "applied"], 20, "the reload")
        open(config, "w", encoding="utf-8").write("project: [unclosed\n")
        if told_by == "sighup":
            serve.process.send_signal(signal.SIGHUP)
        wait_for(lambda: reloads(serve.log) == [*seen, "applied", *seen, "refused"], 20, "the refusal")
        assert serve.healthy()
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=30)


def test_the_store_is_found_in_the_state_directory_and_never_invented_by_a_command_that_reads(tmp_path, monkeypatch):
    import jsm_autopilot.cli.live  # noqa: F401  (registers the commands)
    from jsm_autopilot.cli.main import main
    from jsm_autopilot.store.event_store import EventStore, database_url

    monkeypatch.delenv("JSM_AUTOPILOT_DB", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    expected = tmp_path / "state" / "jsm-autopilot" / "jsm-autopilot.db"
    assert database_url() == f"sqlite:///{expected}"
    for command in (["events"], ["events", "--json"], ["shadow"], ["events", "replay", "--failed"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2 and f"no store at {expected}" in result.output, (command, result.output)
    assert not (tmp_path / "state").exists() and list(tmp_path.iterdir()) == [], "nothing was created"
    EventStore().migrate()  # what serve does: the directory and the file are made
    result = CliRunner().invoke(main, ["events"])
    assert result.exit_code == 0 and f"store: {expected}" in result.output and "No events." in result.output


def test_the_systemd_unit_is_valid_and_hardened(tmp_path):
    """deploy/jsm-autopilot.service, checked by systemd itself where it is installed."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    unit = (Path(__file__).resolve().parent.parent / "deploy" / "jsm-autopilot.service").read_text(encoding="utf-8")
    for setting in ("User=jsm-autopilot", "ProtectSystem=strict", "StateDirectory=jsm-autopilot", "NoNewPrivileges=yes",
                    "EnvironmentFile=/etc/jsm-autopilot/environment", "ExecReload=/bin/kill -HUP $MAINPID", "--host 127.0.0.1"):
        assert setting in unit
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    local = tmp_path / "jsm-autopilot.service"
    local.write_text(unit.replace("/opt/jsm-autopilot/bin/jsm-autopilot", str(Path(sys.executable).parent / "jsm-autopilot")),
                     encoding="utf-8")
    checked = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr


def test_why_says_for_each_rule_whether_it_fires_and_if_not_when_and_sweep_acts_on_one_ticket(site_factory, monkeypatch):
    import jsm_autopilot.cli.live  # noqa: F401  (registers the commands)
    import jsm_autopilot.cli.why  # noqa: F401
    from jsm_autopilot.cli.main import main
    from tests.site import BOT
    from tests.test_faults import waiting_tickets_due_a_reminder

    site = site_factory(T0)
    first, second = waiting_tickets_due_a_reminder(site, 2)
    site.set_clock(T0 + timedelta(days=5))
    monkeypatch.setenv("JIRA_URL", site.url)
    monkeypatch.setenv("JIRA_USER", BOT)
    monkeypatch.setenv("JIRA_API_TOKEN", "token")
    monkeypatch.delenv("JIRA_PAT", raising=False)
    config = ["--config", str(write_site_config(site))]
    early = CliRunner().invoke(main, ["why", first, "--json", *config])
    assert early.exit_code == 0, early.output
    by_rule = {entry["rule"]: entry for entry in json.loads(early.stdout)}
    assert by_rule["clarification.reminder"]["state"] == "due" and by_rule["clarification.reminder"]["due"].startswith("2026-01-15")
    assert by_rule["delivery.create"]["state"] in ("idle", "off") and by_rule["resolved.close"]["state"] == "idle"
    assert by_rule["clarification.reminder"]["why"].endswith("(reminder 1 of 3, the clock counted from entering "
                                                             "'Clarification required / On hold')")
    assert by_rule["resolved.close"]["why"] == f"acts only in 'Resolved'; {first} is in 'Clarification required / On hold'"
    from jsm_autopilot.rules.catalogue import RULES

    for planned in (rule.id for rule in RULES if not rule.implemented):
        assert by_rule[planned] == {"rule": planned, "state": "off", "why": "planned in PROCESS.md, not implemented yet"}
    site.set_clock(T0 + timedelta(days=10, minutes=2))
    table = CliRunner().invoke(main, ["why", first, *config]).stdout
    assert "clarification.reminder   fires  no customer feedback since" in table
    assert CliRunner().invoke(main, ["why", "SD-1/../SD-2", *config]).exit_code == 2

    acted = CliRunner().invoke(main, ["sweep", "--once", "--issue", second, "--json", *config])
    assert acted.exit_code == 0, acted.output
    assert json.loads(acted.stdout)["by_rule"] == {"clarification.reminder": 1}
    assert len(site.comments_by_bot(second, public=True)) == 1 and site.comments_by_bot(first, public=True) == []


def write_site_config(site):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "app.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(site.settings.model_dump_json())), encoding="utf-8")
    return path


def one_reminder_by_a_webhook_event(site, tmp_path, monkeypatch):
    """Two tickets due a reminder; the first gets it through the stored event `delivery-1`.
    Returns the store (at $JSM_AUTOPILOT_DB), the service and both keys."""
    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore
    from tests.test_faults import waiting_tickets_due_a_reminder

    by_event, other = waiting_tickets_due_a_reminder(site, 2)
    monkeypatch.setenv("JSM_AUTOPILOT_DB", f"sqlite:///{tmp_path / 'events.db'}")
    store = EventStore()
    store.migrate()
    service = Service(site.settings, store, site.client(), b"secret")
    store.add("delivery-1", "comment_created", by_event, b"{}", True, datetime(2026, 6, 1, tzinfo=timezone.utc))
    service.workers[0].clock = lambda: datetime(2026, 6, 1, 0, 1, tzinfo=timezone.utc)
    assert service.workers[0].run_once()
    return store, service, by_event, other


def test_audit_lists_what_fired_and_events_show_links_an_event_to_its_firings(site_factory, tmp_path, monkeypatch):
    import jsm_autopilot.cli.audit  # noqa: F401  (registers the commands)
    import jsm_autopilot.cli.live  # noqa: F401
    from jsm_autopilot.cli.main import main

    site = site_factory(T0)
    store, service, by_event, by_sweep = one_reminder_by_a_webhook_event(site, tmp_path, monkeypatch)
    requests_faults = __import__("requests").post
    requests_faults(f"{site.url}/_sandbox/faults", json={"rate": 1.0, "statuses": [400], "methods": ["PUT"], "paths": [f"/{by_sweep}"]})
    service.scheduled_sweep(full=True)

    listed = json.loads(CliRunner().invoke(main, ["audit", "--json"]).stdout)
    assert {(f["issue"], f["rule"], f["outcome"], f["source"]) for f in listed} == {
        (by_event, "clarification.reminder", "applied", "webhook:delivery-1"),
        (by_sweep, "clarification.reminder", "failed", "sweep")}
    failed = json.loads(CliRunner().invoke(main, ["audit", "--outcome", "failed", "--json"]).stdout)
    assert len(failed) == 1 and "400" in failed[0]["error"] and "no customer feedback" in failed[0]["reason"]
    mine = json.loads(CliRunner().invoke(main, ["audit", "--issue", by_event, "--since", "2026-01-15T00:00:00+00:00", "--json"]).stdout)
    assert [f["issue"] for f in mine] == [by_event]
    assert json.loads(CliRunner().invoke(main, ["audit", "--since", "2026-01-16T00:00:00+00:00", "--json"]).stdout) == []
    assert json.loads(CliRunner().invoke(main, ["audit", "--rule", "resolved.close", "--json"]).stdout) == []
    shown = json.loads(CliRunner().invoke(main, ["events", "show", "delivery-1", "--json"]).stdout)
    assert shown["status"] == "done" and [f["issue"] for f in shown["firings"]] == [by_event]
    assert CliRunner().invoke(main, ["events", "show", "nope"]).exit_code == 2
    store.dispose()


def test_the_readme_walk_through_ends_in_shadow_mode_with_nothing_written(tmp_path):
    """The README's walk-through, step by step, as processes: sandbox, serve --dry-run, shadow."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import requests

    from tests.test_serve_process import free_port

    root = Path(__file__).resolve().parent.parent
    script = Path(sys.executable).parent / "jsm-autopilot"
    sandbox_port, serve_port = free_port(), free_port()
    environment = {**os.environ, "JIRA_URL": f"http://127.0.0.1:{sandbox_port}", "JIRA_USER": "autopilot@vendor.example",
                   "JIRA_API_TOKEN": "any", "JSM_AUTOPILOT_WEBHOOK_SECRET": "walk-through",
                   "JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'walk-through.db'}", "JSM_AUTOPILOT_CONFIG": str(root / "app.yaml")}
    assert subprocess.run([str(script), "check"], env=environment, capture_output=True).returncode == 0
    processes = [subprocess.Popen([str(script), "sandbox", "--port", str(sandbox_port), "--seed", str(root / "examples" / "sandbox-seed.json")],
                                  env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{sandbox_port}/_sandbox/requests"), 30, "the sandbox")
        processes.append(subprocess.Popen([str(script), "serve", "--dry-run", "--port", str(serve_port)], env=environment,
                                          stdout=subprocess.DEVNULL, stderr=(tmp_path / "serve.log").open("w")))
        wait_for(lambda: _answers(f"http://127.0.0.1:{serve_port}/healthz"), 30, "serve")
        requests.post(f"http://127.0.0.1:{sandbox_port}/_sandbox/webhooks",
                      json={"url": f"http://127.0.0.1:{serve_port}/webhooks/jira", "secret": "walk-through"}).raise_for_status()

        def listed() -> list:
            done = subprocess.run([str(script), "shadow", "--json"], env=environment, capture_output=True, text=True)
            return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else []

        wait_for(lambda: listed(), 60, "the first sweep's shadow firings")
        assert {"clarification.reminder", "resolved.confirm"} <= {f["rule"] for f in listed()}
        writes = [r for r in requests.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/requests").json()["requests"]
                  if r["method"] in ("PUT", "DELETE") or (r["method"] == "POST" and "/search" not in r["path"])]
        assert writes == [], "shadow mode wrote to Jira"
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def test_the_config_watch_reloads_once_per_change_and_follows_a_swapped_symlink(tmp_path):
    """As a Kubernetes ConfigMap changes: the file is a link to a new target, swapped at once."""
    from jsm_autopilot.service.config_watch import ConfigWatch

    first, second = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    first.write_text("project: {key: SD}\n", encoding="utf-8")
    second.write_text("project: {key: SD}\nrules: {enabled: []}\n", encoding="utf-8")
    link = tmp_path / "app.yaml"
    link.symlink_to(first)
    reloaded = []
    watch = ConfigWatch(link, lambda: reloaded.append(link.read_text()))
    assert watch.look() is False and reloaded == []
    swap = tmp_path / "swap"
    swap.symlink_to(second)
    swap.replace(link)
    assert watch.look() is True and reloaded == [second.read_text()]
    assert watch.look() is False, "one reload per change"
    link.unlink()
    assert watch.look() is False, "a file gone for a moment changes nothing"
    link.symlink_to(second)
    assert watch.look() is False, "back as it was: nothing to reload"



def test_audit_from_jira_adds_what_only_the_tickets_firing_logs_know(site_factory, tmp_path, monkeypatch):
    """A reminder sent by a sweep with another store (`sweep --once` on another machine) is in the
    ticket's firing log only: `audit --from-jira` lists it once, and the store's own firing once."""
    import jsm_autopilot.cli.audit  # noqa: F401  (registers the commands)
    from jsm_autopilot.cli.main import main
    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore
    from tests.site import BOT

    site = site_factory(T0)
    store, _, by_event, elsewhere = one_reminder_by_a_webhook_event(site, tmp_path, monkeypatch)
    other = EventStore(f"sqlite:///{tmp_path / 'other.db'}")
    other.migrate()
    assert Service(site.settings, other, site.client(), b"secret").scheduled_sweep(full=True).firings_applied == 1
    for name, value in (("JIRA_URL", site.url), ("JIRA_USER", BOT), ("JIRA_API_TOKEN", "token")):
        monkeypatch.setenv(name, value)
    config = str(write_site_config(site))

    def audit(*options: str) -> set:
        result = CliRunner().invoke(main, ["audit", "--json", *options])
        assert result.exit_code == 0, result.output
        return {(f["issue"], f["rule"], f["outcome"], f["source"]) for f in json.loads(result.stdout)}

    mine = (by_event, "clarification.reminder", "applied", "webhook:delivery-1")
    assert audit() == {mine}
    merged = audit("--from-jira", "--config", config, "--since", "2026-01-01T00:00:00+00:00")
    assert merged == {mine, (elsewhere, "clarification.reminder", "applied", "firing log")}
    assert audit("--from-jira", "--config", config, "--issue", by_event) == {mine}, "the store's firing is not listed twice"
    assert audit("--from-jira", "--config", config, "--since", "2026-01-01T00:00:00+00:00", "--outcome", "failed") == set()
    store.dispose()
    other.dispose()
