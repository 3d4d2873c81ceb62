"""Webhook intake of `jsm-autopilot serve`: deliveries per second and acknowledgement latency.

Run: .venv/bin/python -m bench.intake [--deliveries 2000] [--clients 8] [--rounds 5]

Sends signed deliveries from concurrent clients on loopback to `serve` (workers running against
an empty sandbox), on SQLite and, when it answers, on PostgreSQL (`JSM_AUTOPILOT_BENCH_POSTGRES`,
default the local test database, emptied), then the same load to a bare Flask endpoint that only
answers (202 with a small JSON body, as the receiver does) on the same WSGI server (`serve`'s
waitress, 8 threads; bench/bare_app.py). Each store gets several rounds, a burst
to bare Flask then the same to `serve` (fresh identifiers), so that each ratio compares two runs a
few seconds apart; the median ratio is reported. Goals (issue 16): at least 0.8 of the bare
throughput, p99 under 50 ms. Each burst also gives the server's CPU time per delivery (from /proc):
`serve` answers on one interpreter, so that figure is its limit, and it moves less with the
machine's drift than deliveries a second do. Before the rounds, each server gets a burst that is
not measured (a warm-up), and `serve` works off its backlog.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jsm_autopilot.webhooks.delivery import signature_for  # noqa: E402

SECRET = "bench-secret"
WARM_UP_DELIVERIES = 300
SCRIPT = Path(sys.executable).parent / "jsm-autopilot"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str) -> None:
    for _ in range(600):
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} never became healthy")


def bodies(count: int, tag: str = "") -> list[tuple[str, bytes]]:
    made = []
    for n in range(count):
        identifier = f"bench-{os.getpid()}{tag}-{n}"
        body = json.dumps({"timestamp": 1767603600000, "webhookEvent": "comment_created",
                           "comment": {"id": str(n), "body": "x" * 400},
                           "issue": {"key": os.environ.get("BENCH_PROJECT", "SD") + f"-{n % 300 + 1}", "fields": {}}}).encode()
        made.append((identifier, body))
    return made


def load(url: str, deliveries: list[tuple[str, bytes]], clients: int) -> tuple[float, list[float]]:
    """Each client a keep-alive connection of its own, headers signed beforehand: the client costs
    a third of a millisecond a delivery, so the figures are the server's. (With `requests`, at
    about 3 ms a delivery on two cores, the load generator saturated first and made any server look
    as fast as bare Flask.)"""
    host, port = url.removeprefix("http://").split(":")
    prepared = [(body, {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": identifier,
                        "X-Hub-Signature": signature_for(body, SECRET.encode())}) for identifier, body in deliveries]
    latencies: list[float] = []
    lock = threading.Lock()
    next_index = iter(range(len(prepared)))
    refused: list[int] = []

    def client() -> None:
        connection, mine = http.client.HTTPConnection(host, int(port), timeout=30), []
        try:
            while (index := next(next_index, None)) is not None:
                body, headers = prepared[index]
                started = time.perf_counter()
                connection.request("POST", "/webhooks/jira", body, headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status not in (202, 204):
                    refused.append(answer.status)  # an exception would end only this thread, unseen
                    return
                mine.append(time.perf_counter() - started)
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if refused:
        raise SystemExit(f"unexpected status {refused[0]}")
    if len(latencies) != len(prepared):
        raise SystemExit(f"only {len(latencies)} of {len(prepared)} deliveries were answered")
    return time.perf_counter() - started, latencies


def figures(name: str, seconds: float, latencies: list[float], cpu_ms: float) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    rate = len(latencies) / seconds
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"{name:<15} {rate:>14.0f} {p50:>8.1f} {p99:>8.1f} {cpu_ms:>14.2f}")
    return rate, p50, p99


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, from /proc (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(name: str, pid: int, url: str, deliveries: list[tuple[str, bytes]], clients: int) -> tuple[float, float, list[float]]:
    """Deliveries a second and the server's CPU milliseconds per delivery during one burst."""
    before = cpu_seconds(pid)
    seconds, answered = load(url, deliveries, clients)
    cpu = (cpu_seconds(pid) - before) / len(deliveries) * 1000
    return figures(name, seconds, answered, cpu)[0], cpu, answered


def paired_rounds(name: str, target: tuple[str, int], bare: tuple[str, int], count: int, clients: int, rounds: int,
                  warmed_up: Callable[[], object] = lambda: None,
                  after_round: Callable[[float], None] = lambda ratio: None) -> tuple[list[float], list[float], list[float]]:
    """A warm-up burst to each server, not measured (the first requests of a process pay once for
    what later ones reuse: connections, compiled statements, lazily built objects), then `rounds`
    pairs of bursts, bare Flask then the target (url, pid): each pair's throughput and CPU ratios,
    and the target's latencies."""
    tag = "".join(character for character in name if character.isalnum())  # identifiers take no spaces
    warm_up = bodies(WARM_UP_DELIVERIES, f"-{tag}-warm-up")
    load(bare[0], warm_up, clients)
    load(target[0], warm_up, clients)
    warmed_up()
    ratios, cpu_ratios, latencies = [], [], []
    for round_number in range(1, rounds + 1):
        deliveries = bodies(count, f"-{tag}-{round_number}")
        bare_rate, bare_cpu, _ = measured("bare Flask", bare[1], bare[0], deliveries, clients)
        rate, cpu, answered = measured(name[:15], target[1], target[0], deliveries, clients)
        ratios.append(rate / bare_rate)
        if bare_cpu:
            cpu_ratios.append(cpu / bare_cpu)
        latencies += answered
        after_round(ratios[-1])
    return ratios, cpu_ratios, latencies


def serve_rounds(database: str, bare: tuple[str, int], count: int, clients: int, rounds: int, sandbox_port: int) -> tuple[list[float], list[float], float]:
    """Bare Flask, then `serve`, `rounds` times over, each burst to an idle service: the ratio of
    each pair, and p99 over every `serve` answer. Pairs close in time cancel the machine's drift."""
    port = free_port()
    environment = {**os.environ, "JIRA_URL": f"http://127.0.0.1:{sandbox_port}", "JIRA_USER": "autopilot@vendor.example",
                   "JIRA_API_TOKEN": "token", "JSM_AUTOPILOT_WEBHOOK_SECRET": SECRET, "JSM_AUTOPILOT_DB": database}
    process = subprocess.Popen([str(SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(port), "--config", str(ROOT / "app.yaml")],
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)

        def caught_up(ratio: float) -> None:
            # Workers hold back while deliveries arrive (webhooks/intake_first.py): say when they caught up.
            print(f"{'':<15} every event handled {backlog_handled(database):.1f} s after the last delivery; serve/bare {ratio:.2f}")

        ratios, cpu_ratios, latencies = paired_rounds("serve SQLite" if database.startswith("sqlite") else "serve Postgres",
                                                      (url, process.pid), bare, count, clients, rounds,
                                                      warmed_up=lambda: backlog_handled(database), after_round=caught_up)
        return ratios, cpu_ratios, sorted(latencies)[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    finally:
        process.terminate()
        process.wait(timeout=30)


def backlog_handled(database: str) -> float:
    from jsm_autopilot.store.event_store import EventStore

    store, started = EventStore(database, create=False), time.perf_counter()
    try:
        while (counts := store.counts()).get("pending", 0) + counts.get("processing", 0):
            if time.perf_counter() - started > 600:
                raise SystemExit(f"events still waiting after 10 minutes: {counts}")
            time.sleep(0.1)
    finally:
        store.dispose()
    return time.perf_counter() - started


def postgres_or_none() -> str | None:
    from jsm_autopilot.store.event_store import EventStore, metadata

    url = os.environ.get("JSM_AUTOPILOT_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    store = EventStore(url)
    try:
        if not store.ping():
            return None
        metadata.drop_all(store.engine)
        return url
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000, help="per burst")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="pairs of bursts, bare Flask then serve, per store (the median ratio is the figure)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        sandbox_port, bare_port = free_port(), free_port()
        processes = [subprocess.Popen([str(SCRIPT), "sandbox", "--port", str(sandbox_port), "--config", str(ROOT / "app.yaml")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                     subprocess.Popen([sys.executable, "-m", "bench.bare_app", str(bare_port)], cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            bare_url = f"http://127.0.0.1:{bare_port}"
            wait_healthy(bare_url)
            print(f"{options.rounds} rounds per store of {options.deliveries} signed deliveries from {options.clients} "
                  f"concurrent clients on loopback, bare Flask then serve")
            print(f"{'':<15} {'deliveries/s':>14} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/deliv.':>14}")
            arguments = ((bare_url, processes[1].pid), options.deliveries, options.clients, options.rounds, sandbox_port)
            results = {"SQLite": serve_rounds(f"sqlite:///{Path(directory) / 'events.db'}", *arguments)}
            postgres = postgres_or_none()
            if postgres:
                results["PostgreSQL"] = serve_rounds(postgres, *arguments)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    for name, (ratios, cpu_ratios, p99) in results.items():
        ratio = statistics.median(ratios)
        print(f"{name}: throughput serve/bare {ratio:.2f}, median of {', '.join(f'{r:.2f}' for r in ratios)} "
              f"(goal >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'}); p99 {p99:.1f} ms (goal < 50 ms: {'met' if p99 < 50 else 'NOT met'})"
              + (f"; CPU per delivery serve/bare {statistics.median(cpu_ratios):.2f}" if cpu_ratios else ""))


if __name__ == "__main__":
    main()
