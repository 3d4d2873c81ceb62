"""API calls per applied action, and the sweep's peak memory, for projects of 1,000 and 10,000 tickets.

Run: .venv/bin/python -m bench.sweep [--sizes 1000 10000]
     .venv/bin/python -m bench.sweep --latency 100   (1,000 due actions, each Jira call 100 ms slower:
                                                      one ticket at a time, then limits.concurrency at once)
     .venv/bin/python -m bench.sweep --steady        (routine sweeps with a schedule, 1% of the tickets due:
                                                      calls per action, then an idle sweep's calls)

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

from jsm_autopilot.config.environment import JiraCredentials  # noqa: E402
from jsm_autopilot.config.loader import load_settings  # noqa: E402
from jsm_autopilot.connector.client import JiraClient  # noqa: E402
from jsm_autopilot.connector.sweep import sweep_once  # noqa: E402

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


def due_reminders(tickets: int) -> dict:
    """Waiting tickets that are all due their first reminder (a public comment and a note each)."""
    since = NOW - timedelta(days=12)
    return {"now": NOW.isoformat(), "users": [{"email": BOT, "accountId": AUTOMATION_ACCOUNT}],
            "issues": [{"type": "Incident", "summary": f"Ticket {n}", "reporter": f"customer{n % 97}@example.org",
                        "created": (since - timedelta(days=2)).isoformat(), "status": STATUSES[0],
                        "status_since": since.isoformat(), "agent": "anna@vendor.example"} for n in range(tickets)]}


def start_sandbox_process(directory: Path, document: dict) -> tuple[subprocess.Popen, str]:
    """The sandbox in its own process (so tracemalloc here sees the sweep alone), seeded, answering."""
    port = free_port()
    seed = directory / "seed.json"
    seed.write_text(json.dumps(document), encoding="utf-8")
    sandbox = subprocess.Popen([str(Path(sys.executable).parent / "jsm-autopilot"), "sandbox", "--port", str(port), "--seed",
                                str(seed), "--config", str(ROOT / "app.yaml")], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            requests.get(f"{url}/_sandbox/requests", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)  # another process starting: real time, in a benchmark
    return sandbox, url


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


def measure(size: int, document: dict | None = None, latency_ms: int = 0, concurrency: int | None = None) -> Figures:
    settings = load_settings(ROOT / "app.yaml")
    # The figures are of one whole pass: lift the first-start cap (limits.max_firings_per_sweep).
    limits = {"max_firings_per_sweep": 100_000, **({"concurrency": concurrency} if concurrency else {})}
    settings = settings.model_copy(update={"limits": settings.limits.model_copy(update=limits)})
    # Calls per action, whatever the hour: at NOW it is evening in Melbourne, and half the tickets
    # would wait for its desk (hours.window) while their searches still count.
    settings = settings.model_copy(update={"rules": settings.rules.model_copy(
        update={"enabled": [r for r in settings.rules.enabled if r != "hours.window"]})})
    with tempfile.TemporaryDirectory() as directory:
        sandbox, url = start_sandbox_process(Path(directory), document or seed_document(size))
        try:
            client = JiraClient(JiraCredentials(url, BOT, "token"), "cloud")
            requests.post(f"{url}/_sandbox/faults", json={"rate": 0, "latency_ms": latency_ms}).raise_for_status()
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


def steady_document(size: int) -> dict:
    """Tickets waiting for the customer; 1% of them fall due their first reminder between the
    full pass (an hour before NOW) and the routine sweep at NOW."""
    issues = []
    for n in range(size):
        since = NOW - timedelta(days=10, minutes=30) if n % 100 == 0 else NOW - timedelta(days=3)
        issues.append({"type": "Incident", "summary": f"Ticket {n}", "reporter": f"customer{n % 97}@example.org",
                       "created": (since - timedelta(days=2)).isoformat(), "status": STATUSES[0],
                       "status_since": since.isoformat(), "agent": "anna@vendor.example"})
    return {"now": NOW.isoformat(), "users": [{"email": BOT, "accountId": AUTOMATION_ACCOUNT}], "issues": issues}


def steady(size: int) -> dict:
    """A full pass an hour before NOW fills the schedule; at NOW a routine sweep reads only what
    is due; a minute later another finds nothing to do."""
    from jsm_autopilot.store.event_store import EventStore
    from jsm_autopilot.store.schedule import TicketSchedule

    settings = load_settings(ROOT / "app.yaml")
    settings = settings.model_copy(update={"rules": settings.rules.model_copy(
        update={"enabled": [r for r in settings.rules.enabled if r != "hours.window"]})})
    with tempfile.TemporaryDirectory() as directory:
        sandbox, url = start_sandbox_process(Path(directory), steady_document(size))
        store = EventStore(f"sqlite:///{Path(directory) / 'events.db'}")
        store.migrate()
        schedule = TicketSchedule(store)
        try:
            client = JiraClient(JiraCredentials(url, BOT, "token"), "cloud")
            runs = {}
            for name, at, full in (("full pass", NOW - timedelta(hours=1), True), ("routine", NOW, False),
                                   ("idle", NOW + timedelta(minutes=1), False)):
                requests.post(f"{url}/_sandbox/clock", json={"now": at.isoformat()}).raise_for_status()
                tracemalloc.start()
                started = time.perf_counter()
                report = sweep_once(client, settings, schedule=schedule, full=full)
                seconds = time.perf_counter() - started
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                if report.failures:
                    raise SystemExit(f"the sweep failed: {report.failures[:3]}")
                runs[name] = (report, seconds, peak)
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
            store.dispose()
    return runs


def steady_main(sizes: list[int]) -> None:
    print(f"{'tickets':>8} {'sweep':>10} {'read':>6} {'actions':>8} {'API calls':>9} {'calls/action':>12} {'peak MiB':>9} {'seconds':>8}")
    peaks, last = [], None
    for size in sizes:
        runs = steady(size)
        for name, (report, seconds, peak) in runs.items():
            per = f"{report.api_calls / report.actions_applied:.3f}" if report.actions_applied else "-"
            print(f"{size:>8} {name:>10} {report.tickets_seen:>6} {report.actions_applied:>8} {report.api_calls:>9} {per:>12} "
                  f"{peak / 2**20:>9.2f} {seconds:>8.1f}")
        peaks.append(runs["full pass"][2])  # routine sweeps hold one search page (<= 100 tickets), whatever the size
        last = runs
    if len(peaks) > 1:
        ratio = peaks[-1] / peaks[0]
        print(f"peak memory of the full pass, {sizes[-1]} vs {sizes[0]} tickets: x{ratio:.2f} "
              f"(goal: flat, within 20%: {'met' if abs(ratio - 1) <= 0.2 else 'NOT met'})")
    routine, idle = last["routine"][0], last["idle"][0]
    per_action = routine.api_calls / routine.actions_applied
    print(f"goals: <= 1.1 calls per action ({'met' if per_action <= 1.1 else 'NOT met'}), idle sweep <= 3 calls "
          f"({'met' if idle.api_calls <= 3 else 'NOT met'})")
    print(f"steady: {per_action:.3f} calls per action; idle sweep {idle.api_calls} calls")


def latency(milliseconds: int, tickets: int = 500) -> None:
    """The same due work one ticket at a time and with the pool: what concurrency buys on a slow link."""
    document = due_reminders(tickets)
    one = measure(tickets, document, milliseconds, concurrency=1)
    pooled = measure(tickets, document, milliseconds)
    limit = load_settings(ROOT / "app.yaml").limits.concurrency
    print(f"{one.actions} due actions, {milliseconds} ms per Jira call")
    print(f"{'one ticket at a time':<28}{one.seconds:>8.1f} s  ({one.api_calls} calls)")
    print(f"{f'{limit} tickets at once':<28}{pooled.seconds:>8.1f} s  ({pooled.api_calls} calls)")
    speedup = one.seconds / pooled.seconds
    print(f"speed-up x{speedup:.1f} (goal >= 3: {'met' if speedup >= 3 else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--latency", type=int, default=0, help="ms per Jira call: compare one at a time with the pool")
    parser.add_argument("--steady", action="store_true", help="routine sweeps with a schedule, 1%% of the tickets due")
    arguments = parser.parse_args()
    if arguments.steady:
        steady_main(arguments.sizes)
        return
    if arguments.latency:
        latency(arguments.latency)
        return
    sizes = arguments.sizes
    results = [measure(size) for size in sizes]
    print(f"{'tickets':>8} {'candidates':>10} {'firings':>8} {'actions':>8} {'API calls':>9} {'calls/action':>12} {'peak MiB':>9} {'seconds':>8}")
    for r in results:
        print(f"{r.tickets:>8} {r.candidates:>10} {r.firings:>8} {r.actions:>8} {r.api_calls:>9} {r.calls_per_action:>12.3f} "
              f"{r.peak_bytes / 2**20:>9.2f} {r.seconds:>8.1f}")
    worst = max(r.calls_per_action for r in results)
    print(f"calls per applied action, searches included: worst {worst:.3f} (goal <= 1.05: {'met' if worst <= 1.05 else 'NOT met'})")
    if len(results) > 1:
        ratio = results[-1].peak_bytes / results[0].peak_bytes
        met = "met" if abs(ratio - 1) <= 0.2 else "NOT met"
        print(f"peak memory {results[-1].tickets} vs {results[0].tickets} tickets: x{ratio:.2f} (goal within 20%: {met})")


if __name__ == "__main__":
    main()
