"""Two `serve` processes on one PostgreSQL database: sweeps never overlap, every action applies once."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from tests.conftest import POSTGRES_URL, empty_postgres_store
from tests.test_serve_process import ServeProcess

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def postgres_url():
    empty_postgres_store().dispose()
    return POSTGRES_URL


def sweeps_in(log_path) -> list[tuple[str, datetime, datetime]]:
    """(holder, started, finished) of every sweep a process logged."""
    started, spans = {}, []
    for line in log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("sweep") in ("started", "finished"):
            moment = datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S,%f")
            if entry["sweep"] == "started":
                started[entry["holder"]] = moment
            else:
                spans.append((entry["holder"], started.pop(entry["holder"]), moment))
    return spans


def test_two_replicas_sweep_in_turn_and_act_once(site_factory, tmp_path, postgres_url):
    site = site_factory(T0 - timedelta(days=1))
    keys = [site.create(summary=f"waiting {n}") for n in range(12)]
    for n, key in enumerate(keys):
        site.set_clock(T0 + timedelta(days=n % 4))
        site.move(key, "Clarification required / On hold")
    replicas = []
    for name in ("a", "b"):
        directory = tmp_path / name
        directory.mkdir()
        replica = ServeProcess(site, directory)
        config = yaml.safe_load((directory / "app.yaml").read_text())
        config["schedule"] = {"sweep_every": "1s", "full_pass_at": None}
        (directory / "app.yaml").write_text(yaml.safe_dump(config))
        replica.environment["JSM_AUTOPILOT_DB"] = postgres_url
        replicas.append(replica)
    for replica in replicas:
        replica.start()
    pause = threading.Event()

    def all_closed() -> bool:
        return all(site.issue(key)["fields"]["status"]["name"] == "Closed" for key in keys)

    try:
        for step in range(1, 16):  # 15 jumps of 4 days: every reminder and every close comes due
            site.set_clock(T0 + timedelta(days=4 * step))
            pause.wait(1.5)  # real seconds: the schedules of the two processes have to come round
        # Whatever a slow machine left undone, later sweeps finish (one reminder per sweep at most).
        for extra in range(1, 40):
            if all_closed():
                break
            site.set_clock(T0 + timedelta(days=60 + 10 * extra))
            pause.wait(1.5)
    finally:
        for replica in replicas:
            replica.process.send_signal(signal.SIGTERM)
        for replica in replicas:
            assert replica.process.wait(timeout=60) == 0

    spans = sorted((span for replica in replicas for span in sweeps_in(replica.log)), key=lambda span: span[1])
    assert len(spans) >= 12, "several sweep periods went by"
    for (_, _, end), (_, start, _) in zip(spans, spans[1:]):
        assert start >= end, "a sweep began before the previous one ended"
    for key in keys:
        firings = [f["rule"] for f in site.issue(key)["properties"]["jsm-autopilot"]["firings"]]
        assert firings == ["clarification.reminder"] * 3 + ["clarification.close"], f"{key}: {firings}"
        assert len(site.comments_by_bot(key, public=True)) == 4, f"{key}: each customer comment exactly once"
