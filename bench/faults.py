"""One run of `serve` under attack: kill -9s, injected Jira faults, slow and late writes.

Run: .venv/bin/python -m bench.faults [--tickets 30] [--seconds 60] [--kills 4]
     .venv/bin/python -m bench.faults --outage 120 [--tickets 30]

The sandbox holds tickets that each owe the customer exactly one reminder. `serve` runs against
it with sweeps every 5 s while signed deliveries arrive from 4 clients; Jira answers 10% of calls
with 429, 500 or 503, and every so often applies a write only after the client gave up on it.
`serve` is killed with SIGKILL several times and restarted. Printed: deliveries acknowledged,
acknowledged deliveries lost, customer comments duplicated (goal: 0 and 0), and the longest gap
between two complete sweeps (issue 15: under two minutes after a kill).

With `--outage SECONDS` (issue 29): Jira goes away for that long (the sandbox stops, and starts
again on the same port) while deliveries keep coming. Printed: acknowledged, processed, failed and
duplicated counts, how soon /readyz said Jira was away, and the messages admins got.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import free_port, wait_healthy  # noqa: E402
from jsm_autopilot.config.loader import settings_from_mapping  # noqa: E402
from jsm_autopilot.sandbox import account_id_for, new_state, start_sandbox  # noqa: E402
from jsm_autopilot.sandbox.seed import apply_seed  # noqa: E402
from jsm_autopilot.store.event_store import EventStore  # noqa: E402
from jsm_autopilot.webhooks.delivery import signature_for  # noqa: E402

SCRIPT = Path(sys.executable).parent / "jsm-autopilot"
BOT = "autopilot@vendor.example"
SECRET = "faults-secret"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def site_config() -> dict:
    config = yaml.safe_load((ROOT / "app.yaml").read_text())
    config["automation"]["account"] = account_id_for(BOT)
    config["schedule"] = {"sweep_every": "5s", "full_pass_at": None}
    config["rules"]["enabled"] = [r for r in config["rules"]["enabled"] if r != "hours.window"]  # any hour will do
    config["webhooks"]["settle_seconds"] = 0.2
    return config


def waiting_tickets(count: int) -> dict:
    return {"now": (T0 + timedelta(days=10, minutes=1)).isoformat(), "users": [{"email": BOT}],
            "issues": [{"type": "Incident", "summary": f"Waiting {n}", "reporter": f"customer{n}@example.org",
                        "created": (T0 - timedelta(days=1)).isoformat(), "status": "Clarification required / On hold",
                        "status_since": T0.isoformat()} for n in range(count)]}


class Serve:
    def __init__(self, sandbox_url: str, config_file: Path, database: str, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [str(SCRIPT), "serve", "--port", str(self.port), "--config", str(config_file)]
        self.environment = {**os.environ, "JIRA_URL": sandbox_url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token",
                            "JSM_AUTOPILOT_WEBHOOK_SECRET": SECRET, "JSM_AUTOPILOT_DB": database}
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.environment, stdout=subprocess.DEVNULL, stderr=self.log.open("ab"))
        wait_healthy(self.url)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def deliver(url: str, key: str, identifier: str) -> bool:
    body = json.dumps({"timestamp": 1767603600000, "webhookEvent": "comment_created", "comment": {"id": identifier},
                       "issue": {"key": key, "fields": {}}}).encode()
    headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": identifier,
               "X-Hub-Signature": signature_for(body, SECRET.encode())}
    try:
        return requests.post(f"{url}/webhooks/jira", data=body, headers=headers, timeout=5).status_code == 202
    except requests.RequestException:
        return False  # not acknowledged: Jira would deliver it again


class Clients:
    """Jira's webhook deliveries, from several threads until `stop`: what was sent and acknowledged."""

    def __init__(self, url: str, keys: list[str], pause: float):
        self.url, self.keys, self.pause = url, keys, pause
        self.acknowledged: set[str] = set()
        self.sent = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def run(self, number: int) -> None:
        n = 0
        while not self.stop.is_set():
            identifier = f"c{number}-{n}"
            ok = deliver(self.url, self.keys[(number + n) % len(self.keys)], identifier)
            with self._lock:
                self.sent += 1
                if ok:
                    self.acknowledged.add(identifier)
            n += 1
            self.stop.wait(self.pause)


def sweep_finishes(log: Path) -> list[datetime]:
    finished = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("sweep") == "finished":
            finished.append(datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S,%f").astimezone())  # the log's local time
    return sorted(finished)


def seeded_site(name: str, config: dict, tickets: int):
    """A directory with app.yaml, and the sandbox running with `tickets` tickets that each owe a reminder."""
    directory = Path(tempfile.mkdtemp(prefix=f"jsm-autopilot-{name}-"))
    config_file = directory / "app.yaml"
    config_file.write_text(yaml.safe_dump(config))
    state = new_state(settings_from_mapping(config, base_directory=ROOT), "cloud", T0)
    keys = apply_seed(state, waiting_tickets(tickets))
    return directory, config_file, state, keys, start_sandbox(state)


def run(tickets: int, seconds: float, kills: int) -> dict:
    directory, config_file, state, keys, sandbox = seeded_site("faults", site_config(), tickets)
    database = f"sqlite:///{directory / 'events.db'}"
    serve = Serve(sandbox.url, config_file, database, directory / "serve.log")
    started = datetime.now().astimezone()
    serve.start()
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"rate": 0.1, "statuses": [429, 500, 503]}).raise_for_status()
    clients = Clients(serve.url, keys, pause=0.05)
    stop = clients.stop

    with ThreadPoolExecutor(max_workers=4) as pool:
        for number in range(4):
            pool.submit(clients.run, number)
        pause = threading.Event()
        for _ in range(kills):
            pause.wait(seconds / (kills + 1))
            # A write that lands only after the client gave up, then a kill while things are in flight.
            requests.post(f"{sandbox.url}/_sandbox/faults", json={"rate": 0.1, "statuses": [429, 500, 503],
                                                                  "late_writes": {"count": 1, "delay": 1.0}})
            pause.wait(0.5)
            serve.kill()
            serve.start()
        pause.wait(seconds / (kills + 1))
        stop.set()
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"rate": 0}).raise_for_status()
    store = EventStore(database)
    deadline = time.monotonic() + 120
    while set(store.counts()) - {"done", "ignored", "failed"} and time.monotonic() < deadline:
        pause.wait(0.5)
    pause.wait(6)  # one more sweep with Jira well
    stored = {e.identifier for e in store.list_events(limit=100_000)}
    with state.lock:
        public = Counter(issue.key for issue in state.issues.values() for c in issue.comments if c.public and c.author.email == BOT)
    finishes = [started] + sweep_finishes(serve.log)
    serve.process.send_signal(signal.SIGTERM)
    serve.process.wait(timeout=30)
    sandbox.stop()
    store.dispose()
    return {
        "deliveries sent": clients.sent,
        "acknowledged": len(clients.acknowledged),
        "acknowledged but lost": len(clients.acknowledged - stored),
        "customer comments duplicated": sum(max(0, n - 1) for n in public.values()),
        "tickets without their reminder": sum(1 for key in keys if public[key] == 0),
        "kills": kills,
        "longest gap between complete sweeps (s)": round(max((b - a).total_seconds() for a, b in zip(finishes, finishes[1:])), 1),
    }


class ChatReceiver:
    """Where `notify.webhook` posts (a Slack-format incoming webhook, on this machine)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["text"].split("\n")[0].strip("*"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


def run_outage(tickets: int, outage: float) -> dict:
    """Jira away for `outage` seconds under a steady stream of deliveries, then back."""
    config = site_config()
    config["notify"] = {"after": "30s", "webhook": {"format": "slack"}}
    directory, config_file, state, keys, sandbox = seeded_site("outage", config, tickets)
    chat = ChatReceiver()
    database = f"sqlite:///{directory / 'events.db'}"
    serve = Serve(sandbox.url, config_file, database, directory / "serve.log")
    serve.environment["JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL"] = chat.url
    serve.start()
    pause = threading.Event()
    while requests.get(f"{serve.url}/readyz", timeout=2).status_code != 200:
        pause.wait(0.2)
    clients = Clients(serve.url, keys, pause=0.2)
    stop = clients.stop
    port = sandbox.server.server_port
    with ThreadPoolExecutor(max_workers=4) as pool:
        for number in range(4):
            pool.submit(clients.run, number)
        pause.wait(5)
        sandbox.stop()
        away = time.monotonic()
        noticed = None
        while time.monotonic() - away < outage:
            if noticed is None and "jira unreachable" in json.dumps(requests.get(f"{serve.url}/readyz", timeout=2).json()):
                noticed = time.monotonic() - away
            pause.wait(0.5)
        sandbox = start_sandbox(state, port=port)
        back = time.monotonic()
        pause.wait(5)
        stop.set()
    store = EventStore(database)
    deadline = time.monotonic() + 300
    while set(store.counts()) - {"done", "ignored", "failed"} and time.monotonic() < deadline:
        pause.wait(0.5)
    worked = time.monotonic() - back
    counts = store.counts()
    stored = {e.identifier for e in store.list_events(limit=100_000)}
    with state.lock:
        public = Counter(issue.key for issue in state.issues.values() for c in issue.comments if c.public and c.author.email == BOT)
    serve.process.send_signal(signal.SIGTERM)
    serve.process.wait(timeout=30)
    sandbox.stop()
    store.dispose()
    return {
        "Jira away (s)": round(outage),
        "deliveries sent": clients.sent,
        "acknowledged": len(clients.acknowledged),
        "acknowledged but lost": len(clients.acknowledged - stored),
        "processed (done)": counts.get("done", 0),
        "failed": counts.get("failed", 0),
        "customer comments duplicated": sum(max(0, n - 1) for n in public.values()),
        "tickets without their reminder": sum(1 for key in keys if public[key] == 0),
        "/readyz said 'jira unreachable' after (s)": "never" if noticed is None else round(noticed, 1),
        "all events worked, after Jira was back (s)": round(worked, 1),
        "admin messages": "; ".join(chat.received) or "none",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--outage", type=float, default=None, help="Jira away this many seconds (instead of kills)")
    arguments = parser.parse_args()
    if arguments.outage is not None:
        figures = run_outage(arguments.tickets, arguments.outage)
        _print(figures)
        met = figures["acknowledged but lost"] == figures["failed"] == figures["customer comments duplicated"] == 0
        print(f"goal: every acknowledged event processed once, none failed: {'met' if met else 'NOT met'}")
        return
    figures = run(arguments.tickets, arguments.seconds, arguments.kills)
    _print(figures)
    met = figures["acknowledged but lost"] == 0 and figures["customer comments duplicated"] == 0
    print(f"goal: 0 lost and 0 duplicated: {'met' if met else 'NOT met'}; "
          f"longest sweep gap {figures['longest gap between complete sweeps (s)']} s (goal < 120 s)")


def _print(figures: dict) -> None:
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
