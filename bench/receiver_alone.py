"""Where intake's time goes: the receiver alone, with stores of different cost, against bare Flask.

Run: .venv/bin/python -m bench.receiver_alone [--deliveries 2000] [--rounds 3]

The same clients and pairs of bursts as `bench.intake`, but no workers, no scheduler and no
`/metrics`: `create_receiver` under `serve`'s WSGI server (service/http_server.py, 8 threads,
`serve`'s switch interval), with
- no store (the delivery is checked and parsed, then answered): what the receiver's own work costs;
- a group commit whose commit only sleeps (`--commit-ms`, 0.3 by default; no database): what it
  costs that each request waits for a commit before its 202, whatever the database;
- SQLite and PostgreSQL (`JSM_AUTOPILOT_BENCH_POSTGRES`, default the local test database, emptied).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.intake import free_port, paired_rounds, postgres_or_none, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"bench-secret"


class _NoStore:
    def add_many(self, deliveries, *options) -> list[bool]:
        return [True] * len(deliveries)


class _SleepingCommit:
    """A group commit whose commit is a sleep of `seconds`: waiting without a database."""

    def __init__(self, seconds: float):
        from jsm_autopilot.store.group_commit import GroupCommit

        self._group = GroupCommit(lambda batch: time.sleep(seconds) or [True] * len(batch))

    def add_many(self, deliveries, *options) -> list[bool]:
        return self._group.add_many([{} for _ in deliveries])


def serve_receiver(store_name: str, port: int, commit_ms: float) -> None:
    """The child process: one receiver on `port` until terminated."""
    from jsm_autopilot.service.http_server import create_server
    from jsm_autopilot.store.event_store import EventStore
    from jsm_autopilot.webhooks.receiver import create_receiver

    if store_name == "none":
        store = _NoStore()
    elif store_name == "sleep":
        store = _SleepingCommit(commit_ms / 1000)
    else:
        store = EventStore(store_name)
        store.migrate()
    sys.setswitchinterval(0.001)  # as `serve` sets it
    create_server(create_receiver(store, "SD", SECRET, 1 << 21), host="127.0.0.1", port=port, threads=8).run()


def rounds_against(store_name: str, label: str, bare: tuple[str, int], options) -> tuple[float, float]:
    port = free_port()
    child = subprocess.Popen([sys.executable, "-m", "bench.receiver_alone", "--serve", store_name, "--port", str(port),
                              "--commit-ms", str(options.commit_ms)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        ratios, cpu_ratios, _ = paired_rounds(label, (url, child.pid), bare, options.deliveries, options.clients, options.rounds)
        return statistics.median(ratios), statistics.median(cpu_ratios) if cpu_ratios else float("nan")
    finally:
        child.terminate()
        child.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000, help="per burst")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="pairs of bursts, bare Flask then the receiver, per store")
    parser.add_argument("--commit-ms", type=float, default=0.3, help="how long the sleeping commit takes")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the child: which store
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve_receiver(options.serve, options.port, options.commit_ms)
        return
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_app", str(bare_port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    with tempfile.TemporaryDirectory() as directory:
        try:
            bare_url = f"http://127.0.0.1:{bare_port}"
            wait_healthy(bare_url)
            print(f"{options.rounds} rounds per receiver of {options.deliveries} signed deliveries from {options.clients} "
                  f"concurrent clients on loopback, bare Flask then the receiver alone")
            print(f"{'':<15} {'deliveries/s':>14} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/deliv.':>14}")
            stores = [("none", "no store"), ("sleep", f"commit {options.commit_ms:g} ms"),
                      (f"sqlite:///{Path(directory) / 'events.db'}", "SQLite")]
            postgres = postgres_or_none()
            if postgres:
                stores.append((postgres, "PostgreSQL"))
            for store_name, label in stores:
                results.append((label, *rounds_against(store_name, label, (bare_url, bare.pid), options)))
        finally:
            bare.terminate()
            bare.wait(timeout=30)
    for label, ratio, cpu_ratio in results:
        print(f"receiver alone, {label}: throughput of bare Flask {ratio:.2f}; CPU per delivery of bare Flask's {cpu_ratio:.2f}")


if __name__ == "__main__":
    main()
