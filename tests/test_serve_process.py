"""`jsm-autopilot serve` as a real process: killed mid-burst, restarted, nothing lost or done twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import yaml

from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.webhooks.delivery import signature_for
from tests.conftest import POSTGRES_URL, empty_postgres_store
from tests.site import BOT

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
SECRET = "burst-secret"
SCRIPT = Path(sys.executable).parent / "jsm-autopilot"


def wait_for(predicate, timeout: float, what: str) -> None:
    """Wait for another process to reach a state (not a stand-in for time passing in our code)."""
    pause = threading.Event()
    deadline = datetime.now() + timedelta(seconds=timeout)
    while not predicate():
        if datetime.now() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServeProcess:
    def __init__(self, site, tmp_path: Path):
        # The site has the organisations app.yaml names: serve checks its names against the site.
        site.seed({"organisations": list(site.settings.organisations)})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp_path / "app.yaml"
        config.write_text(yaml.safe_dump(yaml.safe_load(site.settings.model_dump_json())), encoding="utf-8")
        self.command = [str(SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--config", str(config)]
        self.environment = {
            **os.environ, "JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
            "JSM_AUTOPILOT_WEBHOOK_SECRET": SECRET, "JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'events.db'}",
        }
        self.log = tmp_path / "serve.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.environment, stdout=subprocess.DEVNULL, stderr=self.log.open("ab"))
        wait_for(self.healthy, 30, "serve to answer /healthz")

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            assert self.process.poll() is None, self.log.read_text()
            return False


def site_with_due_reminders(site_factory, count: int):
    """A site whose `count` tickets entered Clarification at T0, with the clock at T0 + 10 days:
    a reminder is due on every ticket."""
    site = site_factory(T0 - timedelta(days=1))
    keys = [site.create(summary=f"waiting {n}") for n in range(count)]
    site.set_clock(T0)
    for key in keys:
        site.move(key, "Clarification required / On hold")
    site.set_clock(T0 + timedelta(days=10))
    return site, keys


def deliver(url: str, key: str, identifier: str) -> bool:
    body = json.dumps({"timestamp": 1767603600000, "webhookEvent": "comment_created",
                       "comment": {"id": identifier, "body": "ping"}, "issue": {"key": key, "fields": {}}}).encode()
    headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": identifier,
               "X-Hub-Signature": signature_for(body, SECRET.encode())}
    try:
        return requests.post(f"{url}/webhooks/jira", data=body, headers=headers, timeout=5).status_code == 202
    except requests.RequestException:
        # Killed mid-answer (refused, reset, or a truncated response): not acknowledged, so Jira
        # would deliver it again; if it had been stored, the store answers "duplicate" then.
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """The store's URL: the kill tests run on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    empty_postgres_store().dispose()
    return POSTGRES_URL


def test_sigkill_mid_burst_loses_nothing_acknowledged_and_acts_once(site_factory, tmp_path, database):
    site, keys = site_with_due_reminders(site_factory, 10)

    serve = ServeProcess(site, tmp_path)
    serve.environment["JSM_AUTOPILOT_DB"] = database
    serve.start()
    deliveries = [(keys[n % len(keys)], f"delivery-{n:04d}") for n in range(400)]
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def send(delivery) -> None:
        if deliver(serve.url, *delivery):
            with lock:
                acknowledged.add(delivery[1])
                if len(acknowledged) == 120:
                    serve.process.send_signal(signal.SIGKILL)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, deliveries))
    serve.process.wait(timeout=10)
    assert serve.process.returncode == -signal.SIGKILL
    assert 120 <= len(acknowledged) < 400

    store = EventStore(serve.environment["JSM_AUTOPILOT_DB"])
    stored = {e.identifier for e in store.list_events(limit=1000)}
    assert acknowledged <= stored, "every acknowledged delivery survived the kill"

    # Restart; Jira re-delivers what was never acknowledged.
    serve.start()
    for key, identifier in deliveries:
        if identifier not in acknowledged:
            assert deliver(serve.url, key, identifier)
    wait_for(lambda: set(store.counts()) <= {"done"}, 120, "the workers to finish every event")

    final = store.list_events(limit=1000)
    assert sorted(e.identifier for e in final) == sorted(i for _, i in deliveries), "each delivery stored exactly once"
    for key in keys:
        assert len(site.comments_by_bot(key, public=True)) == 1, f"{key} got exactly one reminder"
        rules = [f["rule"] for f in site.issue(key)["properties"]["jsm-autopilot"]["firings"]]
        assert rules == ["clarification.reminder"]

    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(timeout=30) == 0, "SIGTERM drains and exits cleanly"
    store.dispose()


def test_serve_refuses_to_start_without_a_webhook_secret(site_factory, tmp_path):
    site = site_factory(T0)
    serve = ServeProcess(site, tmp_path)
    environment = {k: v for k, v in serve.environment.items() if k != "JSM_AUTOPILOT_WEBHOOK_SECRET"}
    done = subprocess.run(serve.command, env=environment, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "JSM_AUTOPILOT_WEBHOOK_SECRET" in done.stderr


def test_deliveries_are_acknowledged_while_jira_is_unreachable(site_factory, tmp_path):
    site = site_factory(T0)
    serve = ServeProcess(site, tmp_path)
    serve.environment["JIRA_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    serve.start()
    try:
        assert all(deliver(serve.url, "SD-1", f"while-down-{n}") for n in range(20))
        store = EventStore(serve.environment["JSM_AUTOPILOT_DB"])
        assert len(store.list_events()) == 20
        store.dispose()
    finally:
        serve.process.send_signal(signal.SIGTERM)
        assert serve.process.wait(timeout=30) == 0, "drains even while its Jira calls fail"


def sweeps_finished(log: Path, holder_pid: int) -> int:
    finished = 0
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("sweep") == "finished" and str(entry.get("holder", "")).endswith(f"-{holder_pid}"):
            finished += 1
    return finished


def test_sigkill_mid_sweep_is_followed_by_a_complete_sweep_soon_after_the_restart(site_factory, tmp_path, database):
    """Killed while its sweep waits on a write: the restarted process releases the sweep lease its
    predecessor held and sweeps within two minutes (not after a 30-minute lease); nothing twice."""
    site, keys = site_with_due_reminders(site_factory, 5)
    serve = ServeProcess(site, tmp_path)
    serve.environment["JSM_AUTOPILOT_DB"] = database
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0, "late_writes": {"count": 1, "delay": 2}}).raise_for_status()
    serve.start()  # the first scheduled sweep starts 5 s later, and its first write hangs
    wait_for(lambda: requests.get(f"{site.url}/_sandbox/late").json()["pending"] == 1, 60, "the sweep to be mid-write")
    serve.process.send_signal(signal.SIGKILL)
    serve.process.wait(timeout=10)
    wait_for(lambda: requests.get(f"{site.url}/_sandbox/late").json()["pending"] == 0, 30, "the write in flight to land")
    restarted = datetime.now()
    serve.start()
    try:
        wait_for(lambda: sweeps_finished(serve.log, serve.process.pid) >= 1, 120, "a complete sweep after the restart")
        assert (datetime.now() - restarted).total_seconds() < 120
        for key in keys:
            assert len(site.comments_by_bot(key, public=True)) == 1, f"{key} got exactly one reminder"
    finally:
        serve.process.send_signal(signal.SIGTERM)
        serve.process.wait(timeout=30)


def test_serve_with_an_unknown_host_says_so_on_readyz_within_seconds_and_logs_one_error(site_factory, tmp_path):
    """Issue 29: no "ready" on trust, and no minute of retries before the verdict."""
    site = site_factory(datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc))
    serve = ServeProcess(site, tmp_path)
    serve.environment["JIRA_URL"] = "http://jira.invalid"
    started = datetime.now()
    serve.start()
    try:
        def told() -> bool:
            answer = requests.get(f"{serve.url}/readyz", timeout=1)
            return answer.status_code == 503 and answer.json()["causes"] == ["jira unreachable: unknown host (JIRA_URL http://jira.invalid)"]

        wait_for(told, 10, "/readyz to name the unknown host")
        assert (datetime.now() - started).total_seconds() < 10
        wait_for(lambda: "is unreachable" in serve.log.read_text(), 5, "the error line")
        errors = [line for line in serve.log.read_text().splitlines() if "ERROR" in line or '"levelname": "ERROR"' in line]
        assert len(errors) == 1 and "JIRA_URL (http://jira.invalid) is unreachable: unknown host" in errors[0]
        assert "after None" not in serve.log.read_text()
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=10)


def test_jira_stopped_and_started_again_mid_run_every_acknowledged_event_is_worked_once_and_none_fails(site_factory, tmp_path):
    """Issue 29: Jira away is a pause, not a failure. The sandbox is stopped while serve runs,
    deliveries arrive meanwhile, and the sandbox answers again on the same port."""
    from werkzeug.serving import make_server

    site, keys = site_with_due_reminders(site_factory, 6)
    serve = ServeProcess(site, tmp_path)
    serve.start()
    store = EventStore(serve.environment["JSM_AUTOPILOT_DB"])
    try:
        wait_for(lambda: requests.get(f"{serve.url}/readyz", timeout=1).status_code == 200, 15, "serve to be ready")
        port, app = site.running.server.server_port, site.running.server.app
        site.running.server.shutdown()
        site.running.server.server_close()
        wait_for(lambda: "jira unreachable" in str(requests.get(f"{serve.url}/readyz", timeout=1).json().get("causes")), 15,
                 "/readyz to say Jira is away")
        assert all(deliver(serve.url, key, f"while-away-{n}") for n, key in enumerate(keys))
        wait_for(lambda: len(store.list_events()) == len(keys), 10, "every delivery to be stored")
        # The workers are paused while Jira is away: everything stays pending, no attempt counted.
        assert {(e.status, e.attempts) for e in store.list_events()} == {("pending", 0)}

        again = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=again.serve_forever, daemon=True).start()
        try:
            wait_for(lambda: set(store.counts()) == {"done"}, 60, "every event to be worked once Jira answers")
            for key in keys:
                assert len(site.comments_by_bot(key, public=True)) == 1, f"{key} got exactly one reminder"
            assert not any(e.attempts for e in store.list_events()) and "failed" not in store.counts()
        finally:
            again.shutdown()
    finally:
        store.dispose()
        serve.process.terminate()
        serve.process.wait(timeout=10)


def test_a_misspelt_status_makes_serve_not_ready_naming_it_instead_of_silently_dead_rules(site_factory, tmp_path):
    """ISSUE-NOTES, 29: a misspelt status made a "ready" service whose rules were silently dead (0 of
    3 due reminders, no log line). serve runs doctor's name checks against the site at start."""
    site, keys = site_with_due_reminders(site_factory, 3)
    serve = ServeProcess(site, tmp_path)
    config = tmp_path / "app.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["statuses"]["clarification"] = "Clarification requird / On hold"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    serve.start()
    try:
        def causes() -> list:
            answer = requests.get(f"{serve.url}/readyz", timeout=1)
            return answer.json().get("causes", []) if answer.status_code == 503 else []

        wait_for(lambda: any("statuses.clarification" in c for c in causes()), 15, "/readyz to name the misspelt status")
        [cause] = [c for c in causes() if "statuses.clarification" in c]
        assert cause.startswith("app.yaml: statuses.clarification: 'Clarification requird / On hold' exists — fix: set "
                                "statuses.clarification to one of: ") and "Clarification required / On hold" in cause
        errors = [line for line in serve.log.read_text().splitlines()
                  if "app.yaml does not match the site" in line and "statuses.clarification:" in line]
        assert len(errors) == 1 and '"level": "ERROR"' in errors[0]
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=10)


def test_a_comment_jira_applies_50_s_after_the_client_gave_up_reaches_the_customer_once_through_serve(site_factory, tmp_path):
    """Issue 37 item 1, through the real serve: the sandbox holds the reminder's write 50 s (the
    client gives up after 30 s, and its first look ends about 15 s later). The firing is kept as
    uncertain (/metrics says so) and not sent again; once limits.uncertain_settle has passed, the
    ticket read again shows the write landed: one comment."""
    site, [key] = site_with_due_reminders(site_factory, 1)
    serve = ServeProcess(site, tmp_path)
    config = tmp_path / "app.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["limits"]["uncertain_settle"] = "60s"
    data["schedule"] = {"sweep_every": "5s", "full_pass_at": None}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0, "late_writes": {"count": 1, "delay": 50}}).raise_for_status()
    serve.start()
    store = EventStore(serve.environment["JSM_AUTOPILOT_DB"])

    def uncertain_writes() -> float:
        metrics = requests.get(f"{serve.url}/metrics", timeout=5).text
        return float(next(line.split()[1] for line in metrics.splitlines() if line.startswith("jsm_autopilot_uncertain_writes ")))

    try:
        wait_for(lambda: uncertain_writes() == 1, 90, "the reminder to be kept as uncertain")
        assert site.comments_by_bot(key, public=True) == []
        wait_for(lambda: requests.get(f"{site.url}/_sandbox/late").json()["pending"] == 0, 30, "the held write to land")
        assert len(site.comments_by_bot(key, public=True)) == 1
        wait_for(lambda: uncertain_writes() == 0, 90, "the uncertain write to settle")
        assert len(site.comments_by_bot(key, public=True)) == 1
        from jsm_autopilot.store.audit import AuditTrail

        assert [f.outcome for f in AuditTrail(store).list(issue=key, rule="clarification.reminder")][-1] == "uncertain"
        assert "landed after all; not sent again" in serve.log.read_text()
    finally:
        store.dispose()
        serve.process.terminate()
        serve.process.wait(timeout=10)
