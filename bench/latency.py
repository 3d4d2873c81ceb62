"""From a change in Jira to the automation's action, as an agent would see it.

Run: .venv/bin/python -m bench.latency [--samples 20] [--sweep-every 10s]

A customer confirms the solution on a Resolved ticket in the sandbox; the time until the REST API
shows the ticket Closed (rule resolved.confirm) is measured. Once with `serve` fed by the sandbox's
signed webhooks, once with sweeps alone. Goal (issue 6): p99 under 2 s with webhooks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import free_port, wait_healthy  # noqa: E402
from jsm_autopilot.sandbox.state import account_id_for  # noqa: E402

SCRIPT = Path(sys.executable).parent / "jsm-autopilot"
BOT = "autopilot@vendor.example"
SECRET = "latency-secret"


def seed(count: int) -> dict:
    now = datetime.now(timezone.utc)
    return {"now": now.isoformat(), "users": [{"email": BOT}],
            "issues": [{"type": "Support Request", "summary": f"Ticket {n}", "reporter": f"customer{n}@example.org",
                        "created": (now - timedelta(days=3)).isoformat(), "status": "Resolved",
                        "status_since": (now - timedelta(days=1)).isoformat()} for n in range(count)]}


def measure(samples: int, webhooks: bool, sweep_every: str, directory: Path) -> list[float]:
    sandbox_port, serve_port = free_port(), free_port()
    seed_file = directory / f"seed-{webhooks}.json"
    seed_file.write_text(json.dumps(seed(samples)))
    config = yaml.safe_load((ROOT / "app.yaml").read_text())
    config["automation"]["account"] = account_id_for(BOT)
    config["schedule"] = {"sweep_every": None if webhooks else sweep_every, "full_pass_at": None}
    config_file = directory / f"app-{webhooks}.yaml"
    config_file.write_text(yaml.safe_dump(config))
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    environment = {**os.environ, "JIRA_URL": sandbox_url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token",
                   "JSM_AUTOPILOT_WEBHOOK_SECRET": SECRET, "JSM_AUTOPILOT_DB": f"sqlite:///{directory / f'events-{webhooks}.db'}"}
    processes = [
        subprocess.Popen([str(SCRIPT), "sandbox", "--port", str(sandbox_port), "--seed", str(seed_file), "--config", str(config_file)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([str(SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(serve_port), "--config", str(config_file)],
                         env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_healthy(f"http://127.0.0.1:{serve_port}")
        if webhooks:
            requests.post(f"{sandbox_url}/_sandbox/webhooks",
                          json={"url": f"http://127.0.0.1:{serve_port}/webhooks/jira", "secret": SECRET}).raise_for_status()
        latencies = []
        for n in range(samples):
            key = f"SD-{n + 1}"
            customer = requests.Session()
            customer.auth = (f"customer{n}@example.org", "token")
            body = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Thanks, please close."}]}]}
            started = time.perf_counter()
            customer.post(f"{sandbox_url}/rest/api/3/issue/{key}/comment", json={"body": body}).raise_for_status()
            while customer.get(f"{sandbox_url}/rest/api/3/issue/{key}", params={"fields": "status"}).json()["fields"]["status"]["name"] != "Closed":
                time.sleep(0.02)
            latencies.append(time.perf_counter() - started)
        return latencies
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)


def describe(name: str, latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:<26} {len(ordered):>7} {p50:>8.2f} {p99:>8.2f}")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--sweep-every", default="10s", help="interval of the sweep-only setup")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        print(f"{'change -> action visible':<26} {'samples':>7} {'p50 s':>8} {'p99 s':>8}")
        hook_p50, hook_p99 = describe("webhooks (serve)", measure(options.samples, True, options.sweep_every, Path(directory)))
        sweep_p50, _ = describe(f"sweeps every {options.sweep_every} only", measure(options.samples, False, options.sweep_every, Path(directory)))
    print(f"median latency, sweep-only / webhooks: x{sweep_p50 / hook_p50:.1f}; "
          f"p99 with webhooks: {hook_p99:.2f} s (goal < 2 s: {'met' if hook_p99 < 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
