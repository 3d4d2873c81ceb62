"""API calls per action of a delivery: creating the Delivery ticket of N tickets, then delivering it.

Run: .venv/bin/python -m bench.delivery [--sizes 10 100]

The sandbox runs in this process on loopback. Jira has no bulk link or bulk transition API, so
the floor is one call per link and, at Delivered, one transition (carrying its public comment and
the firing log) plus one internal note per ticket; the figures show the overhead around that
floor: searches, reads, the organisation lookup and the re-read under the hold.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jsm_autopilot.config.environment import JiraCredentials  # noqa: E402
from jsm_autopilot.config.loader import load_settings  # noqa: E402
from jsm_autopilot.connector.client import JiraClient  # noqa: E402
from jsm_autopilot.connector.deliveries import DeliveryRegistry, DeliveryRequest, apply_delivery, create_or_update  # noqa: E402
from jsm_autopilot.connector.executor import Executor  # noqa: E402
from jsm_autopilot.connector.holds import NoGuard  # noqa: E402
from jsm_autopilot.sandbox import account_id_for, new_state, start_sandbox  # noqa: E402
from jsm_autopilot.sandbox.seed import apply_seed  # noqa: E402

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
BOT = "autopilot@vendor.example"
ACME = "Acme Learning Ltd"


class _Registry(DeliveryRegistry):
    """In memory: the benchmark counts Jira calls, not the store."""

    def __init__(self):
        self.keys: dict[str, str | None] = {}
        super().__init__(self, NoGuard())

    def delivery_record(self, name):
        return (self.keys[name], NOW) if name in self.keys else None

    def remember_delivery(self, name, key, now):
        self.keys[name] = key


def measure(size: int) -> dict:
    settings = load_settings(ROOT / "app.yaml")
    settings = settings.model_copy(update={"automation": settings.automation.model_copy(update={"account": account_id_for(BOT)})})
    state = new_state(settings, "cloud", NOW)
    fields = settings.fields
    issues = []
    for n in range(size + size // 2):
        mine = n < size
        issues.append({"type": "Software Defect", "summary": f"Fix {n}", "reporter": f"c{n % 7}@acme.example",
                       "organisation": ACME if mine or n % 2 else "Muster AG", "status": "Delivery Pending",
                       "created": (NOW - timedelta(days=9)).isoformat(), "status_since": (NOW - timedelta(days=2)).isoformat(),
                       "custom_fields": {fields.delivery_version: "14.21.3.1" if mine else "14.21.3.2"}, "agent": "anna@vendor.example"})
    apply_seed(state, {"now": NOW.isoformat(), "users": [{"email": BOT}], "organisations": [ACME, "Muster AG"], "issues": issues})
    running = start_sandbox(state)
    try:
        client = JiraClient(JiraCredentials(running.url, BOT, "token"), "cloud")
        executor = Executor(client, settings)
        request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-12-01"}, settings)
        before = sum(client.calls.values())
        created = create_or_update(client, settings, executor, _Registry(), request)
        create_calls = sum(client.calls.values()) - before
        with state.lock:
            delivery = state.issue(created.key)
            state.move(delivery, settings.statuses.delivered, state.user("release@vendor.example"))
        before = sum(client.calls.values())
        _, done_actions, outcomes = apply_delivery(client, settings, executor, created.key, NOW + timedelta(days=1))
        done_calls = sum(client.calls.values()) - before
        resolved = sum(1 for issue in state.issues.values() if issue.status == settings.statuses.resolved)
    finally:
        running.stop()
    assert len(created.included) == size and resolved == size and all(o.applied for o in outcomes)
    return {"size": size, "create_actions": len(created.actions), "create_calls": create_calls,
            "done_actions": len(done_actions), "done_calls": done_calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    rows = [measure(size) for size in parser.parse_args().sizes]
    print(f"{'tickets':>8} {'create: actions':>16} {'calls':>6} {'calls/action':>13} {'done: actions':>14} {'calls':>6} {'calls/action':>13}")
    for r in rows:
        print(f"{r['size']:>8} {r['create_actions']:>16} {r['create_calls']:>6} {r['create_calls'] / r['create_actions']:>13.2f} "
              f"{r['done_actions']:>14} {r['done_calls']:>6} {r['done_calls'] / r['done_actions']:>13.2f}")


if __name__ == "__main__":
    main()
