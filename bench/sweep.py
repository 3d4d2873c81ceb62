"""API calls per applied action, and the sweep's peak memory, for projects of 1,000 and 10,000 tickets.

Run: .venv/bin/python -m bench.sweep [--sizes 1000 10000]

The sandbox runs in its own process (seeded from a generated document), so the memory measured
(tracemalloc, in this process) is the sweep's alone. Goals (issue 4): at most 1.05 calls per applied
action, searches included; the same peak memory for both sizes within 20%.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.environment import JiraCredentials  # noqa: E402
from config.loader import load_settings  # noqa: E402
from connector.client import JiraClient  # noqa: E402
from connector.sweep import sweep_once  # noqa: E402

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
BOT = "autopilot@vendor.example"
AUTOMATION_ACCOUNT = "5b10ac8d82e05b22cc7d4ef5"  # app.yaml's automation.account
STATUSES = ["Clarification required / On hold", "Resolved", "In Progress", "Opened", "Delivery Pending"]


def seed_document(size: int) -> dict:
    """A project where, at NOW, 30% wait for feedback (most due a reminder), 20% are Resolved
    (most due closing), and half are in statuses no timer rule looks at."""
    issues = []
    for n in range(size):
        status = STATUSES[0] if n % 10 < 3 else STATUSES[1] if n % 10 < 5 else STATUSES[2 + n % 3]
        days = 12 if n % 4 else 5  # a quarter of the candidates are not due yet
        if status == STATUSES[1]:
            days = 51 if n % 4 else 20
        since = NOW - timedelta(days=days)
        issues.append({
            "type": "Incident", "summary": f"Ticket {n}", "reporter": f"customer{n % 97}@example.org",
            "organisation": "Acme Learning Ltd" if n % 2 else "Muster AG",
            "created": (since - timedelta(days=2)).isoformat(), "status": status, "status_since": since.isoformat(),
            "agent": "anna@vendor.example",
            "comments": [{"author": "anna@vendor.example", "body": "Could you send the log file?", "created": since.isoformat()}],
        })
    return {"now": NOW.isoformat(), "users": [{"email": BOT, "accountId": AUTOMATION_ACCOUNT}],
            "organisations": ["Acme Learning Ltd", "Muster AG"], "issues": issues}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Figures:
    tickets: int
    candidates: int
    firings: int
    actions: int
    api_calls: int
    peak_bytes: int
    seconds: float

    @property
    def calls_per_action(self) -> float:
        return self.api_calls / self.actions if self.actions else float("inf")


def measure(size: int) -> Figures:
    settings = load_settings(ROOT / "app.yaml")
    # The figures are of one whole pass: lift the first-start cap (limits.max_firings_per_sweep).
    settings = settings.model_copy(update={"limits": settings.limits.model_copy(update={"max_firings_per_sweep": 100_000})})
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        seed = Path(directory) / "seed.json"
        seed.write_text(json.dumps(seed_document(size)), encoding="utf-8")
        sandbox = subprocess.Popen(
            [str(Path(sys.executable).parent / "jsm-autopilot"), "sandbox", "--port", str(port), "--seed", str(seed),
             "--config", str(ROOT / "app.yaml")],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    requests.get(f"{url}/_sandbox/requests", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            client = JiraClient(JiraCredentials(url, BOT, "token"), "cloud")
            tracemalloc.start()
            started = time.perf_counter()
            report = sweep_once(client, settings)
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
    if report.failures:
        raise SystemExit(f"the sweep failed: {report.failures[:3]}")
    return Figures(size, report.tickets_seen, report.firings_applied, report.actions_applied, report.api_calls, peak, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    sizes = parser.parse_args().sizes
    results = [measure(size) for size in sizes]
    print(f"{'tickets':>8} {'candidates':>10} {'firings':>8} {'actions':>8} {'API calls':>9} {'calls/action':>12} {'peak MiB':>9} {'seconds':>8}")
    for r in results:
        print(f"{r.tickets:>8} {r.candidates:>10} {r.firings:>8} {r.actions:>8} {r.api_calls:>9} {r.calls_per_action:>12.3f} "
              f"{r.peak_bytes / 2**20:>9.2f} {r.seconds:>8.1f}")
    worst = max(r.calls_per_action for r in results)
    print(f"calls per applied action, searches included: worst {worst:.3f} (goal <= 1.05: {'met' if worst <= 1.05 else 'NOT met'})")
    if len(results) > 1:
        ratio = results[-1].peak_bytes / results[0].peak_bytes
        print(f"peak memory {results[-1].tickets} vs {results[0].tickets} tickets: x{ratio:.2f} (goal within 20%: {'met' if abs(ratio - 1) <= 0.2 else 'NOT met'})")


if __name__ == "__main__":
    main()
