"""Issue 15: the service under faults. Each test reproduces one defect found by attacking it."""

from __future__ import annotations

import threading
from datetime import timedelta

import requests

from jsm_autopilot.connector.sweep import sweep_once
from tests.conftest import berlin

T0 = berlin(2026, 1, 5, 10, 0)


def waiting_ticket_due_a_reminder(site) -> str:
    return waiting_tickets_due_a_reminder(site, 1)[0]


def waiting_tickets_due_a_reminder(site, count: int) -> list[str]:
    site.set_clock(T0)
    keys = [site.create() for _ in range(count)]
    for key in keys:
        site.move(key, "Clarification required / On hold")
    site.set_clock(T0 + timedelta(days=10, minutes=1))
    return keys


def until_late_writes_land(site):
    """The client's pause: meanwhile Jira finishes applying the writes it took too long for."""
    def pause(seconds: float) -> None:
        idle = threading.Event()
        while requests.get(f"{site.url}/_sandbox/late").json()["pending"]:
            idle.wait(0.02)
    return pause


def test_a_write_that_times_out_and_lands_late_is_not_sent_twice(site_factory):
    """A gateway timeout that Jira still applies a moment later: the executor looks again over a
    window before resending, so the customer gets one reminder, and agents one note (recognised
    by the firing id on the comment)."""
    site = site_factory(T0)
    key = waiting_ticket_due_a_reminder(site)
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0, "late_writes": {"count": 2, "delay": 1.5}}).raise_for_status()
    client = site.client(sleep=until_late_writes_land(site), timeout=1)
    report = sweep_once(client, site.settings)
    until_late_writes_land(site)(0)  # whatever was sent has landed by now
    assert report.failures == [] and report.by_rule["clarification.reminder"] == 1
    assert len(site.comments_by_bot(key, public=True)) == 1
    notes = site.comments_by_bot(key, public=False)
    assert len(notes) == 1
    assert {p["key"] for p in notes[0]["properties"]} >= {"sd.public.comment", "jsm-autopilot.firing"}
    assert requests.get(f"{site.url}/_sandbox/late").json() == {"waiting": 0, "pending": 0}


def test_a_busy_ticket_never_makes_an_event_a_dead_letter(site_factory, tmp_path):
    """Another process holds the ticket (or died holding it): the event waits, uncounted, however
    often it is tried; once the hold is gone it is handled."""
    from datetime import datetime, timezone

    from jsm_autopilot.connector.executor import Executor
    from jsm_autopilot.service.guard import TicketGuard
    from jsm_autopilot.store.event_store import EventStore
    from jsm_autopilot.webhooks.worker import Worker

    site = site_factory(T0)
    key = waiting_ticket_due_a_reminder(site)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    clock = {"now": datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)}
    store.take_lease(f"ticket:{key}", "other-host-77/1", clock["now"], timedelta(hours=1))
    client = site.client()
    guard = TicketGuard(store, "this-host-1", clock=lambda: clock["now"], wait=timedelta(0))
    worker = Worker(store, client, site.settings, Executor(client, site.settings), clock=lambda: clock["now"], max_attempts=3, guard=guard)
    store.add("e1", "comment_created", key, b'{"webhookEvent": "comment_created"}', True, clock["now"])
    for _ in range(10):
        clock["now"] += timedelta(minutes=2)
        worker.run_once()
    [event] = store.list_events()
    assert event.status == "pending" and event.attempts == 0 and "being handled elsewhere" in event.error
    clock["now"] += timedelta(hours=1)  # the other holder's lease runs out
    worker.run_once()
    assert store.list_events()[0].status == "done"
    assert len(site.comments_by_bot(key, public=True)) == 1
    store.dispose()


def test_a_restart_gives_back_what_a_killed_process_of_this_host_held(site_factory, tmp_path):
    """Events, the sweep lease and ticket holds of a dead pid (and of our own pid's previous life,
    as in a container where every start is pid 1) are released at start; other hosts' are not,
    nor are those of a container on the host's network: same host name, its own pid 1."""
    import os
    import socket
    from datetime import datetime, timezone

    from jsm_autopilot.service.identity import node_name
    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore

    site = site_factory(T0)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    now = datetime.now(timezone.utc)
    host, dead = node_name(), 2 ** 22 + 7  # above the kernel's pid limit: never alive
    assert host.startswith(socket.gethostname() + ".pidns")
    sibling_container = f"{socket.gethostname()}.pidns4026532999-1"
    service = Service(site.settings, store, site.client(), b"secret")
    store.take_lease(service.sweep_lease, f"{host}-{dead}", now, timedelta(minutes=30))
    store.take_lease("ticket:SD-1", f"{host}-{dead}/140", now, timedelta(minutes=30))
    store.take_lease("ticket:SD-2", f"{host}-{os.getpid()}/99", now, timedelta(minutes=30))
    store.take_lease("ticket:SD-3", "elsewhere-12/5", now, timedelta(minutes=30))
    store.take_lease("ticket:SD-4", f"{sibling_container}/7", now, timedelta(minutes=30))
    store.take_lease("ticket:SD-5", f"{socket.gethostname()}-1/7", now, timedelta(minutes=30))  # an older version's name
    store.add("e1", "comment_created", "SD-1", b"{}", True, now)
    assert store.claim(f"{host}-{dead}-1", now, timedelta(minutes=5)) is not None
    assert service.release_events_of_dead_processes() == 4
    assert store.lease_holders() == {"elsewhere-12/5", f"{sibling_container}/7", f"{socket.gethostname()}-1/7"}
    assert store.list_events()[0].status == "pending"
    assert store.take_lease(service.sweep_lease, service.holder, now, timedelta(minutes=2))
    store.dispose()


def test_no_key_steers_a_request_to_another_ticket(site_factory, tmp_path):
    """An event stored by an older version with the key `SD-1/../SD-2`: the connector refuses to
    build that URL, so nothing is written to SD-2 while SD-1 is held."""
    from datetime import datetime, timezone

    from jsm_autopilot.connector.executor import Executor
    from jsm_autopilot.store.event_store import EventStore
    from jsm_autopilot.webhooks.worker import Worker

    site = site_factory(T0)
    _, other = waiting_tickets_due_a_reminder(site, 2)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    store.add("e1", "comment_created", f"SD-1/../{other}", b"{}", True, now)
    client = site.client()
    Worker(store, client, site.settings, Executor(client, site.settings), clock=lambda: now).run_once()
    [event] = store.list_events()
    assert event.status == "failed" and "not sent" in event.error
    assert site.comments_by_bot(other) == []
    store.dispose()


def test_readyz_names_what_stops_the_service_and_healthz_stays_alive(site_factory, tmp_path):
    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore

    site = site_factory(T0)
    path = tmp_path / "events.db"
    EventStore(f"sqlite:///{path}").migrate()
    read_only = EventStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    service = Service(site.settings, read_only, site.client(), b"secret")
    web = service.app.test_client()
    service.health.probe()
    answer = web.get("/readyz")
    assert answer.status_code == 503 and answer.json["causes"] == ["store not writable"]
    assert web.get("/healthz").status_code == 200
    writable = Service(site.settings, EventStore(f"sqlite:///{path}"), site.client(), b"secret")
    writable.health.probe()
    assert writable.app.test_client().get("/readyz").json == {"status": "ready"}
    unreachable = Service(site.settings, EventStore(f"sqlite:///{path}"), site.client(), b"secret")
    unreachable.client._jira.url = "http://127.0.0.1:9"  # nothing listens there
    unreachable.client.max_attempts = 1
    unreachable.health.probe()
    assert unreachable.app.test_client().get("/readyz").json["causes"] == [
        "jira unreachable: connection refused (JIRA_URL http://127.0.0.1:9)"]


def test_readiness_is_proven_not_assumed_and_a_wrong_jira_url_is_named_at_once(site_factory, tmp_path, caplog):
    """Issue 29: 503, and no work taken, until the first check of Jira has come to a verdict; an unknown host is a
    verdict at once (no retry loop), one ERROR line naming JIRA_URL and the cause; a JIRA_URL that
    answers, but not as Jira (a wrong path: 404 to everything), is named too, and work waits."""
    from datetime import datetime, timezone

    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore

    site = site_factory(T0)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    service = Service(site.settings, store, site.client(), b"secret")
    web = service.app.test_client()
    assert (web.get("/readyz").status_code, web.get("/readyz").json["causes"]) == (503, ["starting: jira not checked yet"])
    stop = threading.Event()
    idle = threading.Thread(target=service.workers[0].run_until, args=(stop, 0.01))
    store.add("e0", "comment_created", "SD-1", b"{}", True, datetime.now(timezone.utc))
    idle.start()
    threading.Event().wait(0.2)  # a worker takes nothing before Jira has been checked once
    stop.set()
    idle.join()
    assert [e.status for e in store.list_events()] == ["pending"]
    service.health.probe()
    assert web.get("/readyz").json == {"status": "ready"}

    caplog.set_level("INFO")
    for url, cause in (("http://jira.invalid", "jira unreachable: unknown host (JIRA_URL http://jira.invalid)"),
                       (f"{site.url}/jira", f"not a Jira site: JIRA_URL ({site.url}/jira) answers, but not as Jira")):
        wrong = Service(site.settings, store, site.client(), b"secret")
        wrong.client._jira.url = url
        waits: list = []
        wrong.client._sleep = waits.append
        wrong.health.probe()
        assert wrong.app.test_client().get("/readyz").json["causes"] == [cause]
        assert wrong.health.paused and sum(waits) <= wrong.health.quick_budget, "a verdict within seconds, not a retry budget"
        wrong.health.probe()  # still away: no second line
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2 and "JIRA_URL (http://jira.invalid) is unreachable: unknown host" in errors[0]
    assert f"JIRA_URL ({site.url}/jira) is not a Jira site" not in errors[1] and f"JIRA_URL ({site.url}/jira)" in errors[1]
    assert not [r for r in caplog.records if "after None" in r.getMessage()]


def test_jira_away_is_a_pause_and_every_event_is_worked_once_when_it_is_back(site_factory, tmp_path):
    """Issue 29: while Jira answers 503 to everything, events stay pending without counting
    attempts; a failure of one ticket alone still counts; once Jira answers, each is worked once."""
    from datetime import datetime, timezone

    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore

    site = site_factory(T0)
    keys = waiting_tickets_due_a_reminder(site, 3)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    service = Service(site.settings, store, site.client(), b"secret")
    service.health.probe()
    now = datetime.now(timezone.utc)
    for n, key in enumerate(keys):
        store.add(f"e{n}", "comment_created", key, b"{}", True, now)
    worker = service.workers[0]
    site.faults(1.0, [503])
    for _ in range(3):
        worker.run_once()
    assert service.health.paused and {(e.status, e.attempts) for e in store.list_events()} == {("pending", 0)}
    assert service.app.test_client().get("/readyz").json["causes"] == [f"jira unreachable: answer 503 (JIRA_URL {site.url})"]
    site.faults(0.0)
    service.health.probe()
    assert not service.health.paused
    worker.clock = lambda: now + timedelta(minutes=1)
    while worker.run_once():
        pass
    assert {e.status for e in store.list_events()} == {"done"}
    assert all(len(site.comments_by_bot(key, public=True)) == 1 for key in keys)
    # A failure that concerns one ticket (a 500 from one issue while Jira answers otherwise) is an attempt.
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 1.0, "statuses": [500], "paths": [f"/issue/{keys[0]}"]}).raise_for_status()
    store.add("e-one", "comment_created", keys[0], b"{}", True, now)
    worker.run_once()
    site.faults(0.0)
    [one] = [e for e in store.list_events() if e.identifier == "e-one"]
    assert (one.status, one.attempts) == ("pending", 1) and not service.health.paused


def test_a_revoked_token_pauses_the_work_keeps_every_event_and_resumes_by_itself(site_factory, tmp_path, caplog):
    """Jira answers a revoked token with 401 on every resource (platform spec: "401: Returned if the
    authentication credentials are incorrect or missing"); sandbox/REAL_JIRA.md."""
    from datetime import datetime, timezone

    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore
    from tests.site import BOT

    site = site_factory(T0)
    keys = waiting_tickets_due_a_reminder(site, 3)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    service = Service(site.settings, store, site.client(), b"secret")
    now = datetime.now(timezone.utc)
    for n, key in enumerate(keys):
        store.add(f"e{n}", "comment_created", key, b"{}", True, now)
    requests.post(f"{site.url}/_sandbox/credentials", json={"revoked": [BOT]}).raise_for_status()
    caplog.set_level("INFO")
    worker = service.workers[0]
    worker.run_once()
    assert service.health.paused
    assert service.scheduled_sweep() is None  # skipped, no traceback
    service.health.probe()
    assert {e.status for e in store.list_events()} == {"pending"} and {e.attempts for e in store.list_events()} == {0}
    assert service.app.test_client().get("/readyz").json["causes"] == ["jira credentials refused"]
    refused = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(refused) == 1 and "JIRA_API_TOKEN" in refused[0].getMessage() and "401" in refused[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    stop = threading.Event()
    pausing = threading.Thread(target=worker.run_until, args=(stop, 0.01))
    pausing.start()
    threading.Event().wait(0.2)  # the paused worker takes nothing meanwhile
    stop.set()
    pausing.join()
    assert {e.status for e in store.list_events()} == {"pending"}

    requests.post(f"{site.url}/_sandbox/credentials", json={"revoked": []}).raise_for_status()
    service.health.probe()
    assert not service.health.paused and service.app.test_client().get("/readyz").status_code == 200
    worker.clock = lambda: now + timedelta(minutes=1)
    while worker.run_once():
        pass
    assert {e.status for e in store.list_events()} == {"done"}
    assert all(len(site.comments_by_bot(key, public=True)) == 1 for key in keys)
    assert "workers resume" in caplog.text
    store.dispose()


def test_a_wrong_jira_url_fails_fast_and_says_why(site_factory, monkeypatch):
    """Connection refused, HTTPS against an HTTP site, or a site that is not Jira: within 15 s,
    the URL and the cause, exit 2; doctor says "no answer from URL (connection refused)"."""
    import time

    from click.testing import CliRunner

    import jsm_autopilot.cli.live  # noqa: F401  (registers the commands)
    from jsm_autopilot.cli.main import main
    from tests.site import BOT
    from tests.test_serve_process import free_port

    site = site_factory(T0)
    monkeypatch.setenv("JIRA_USER", BOT)
    monkeypatch.setenv("JIRA_API_TOKEN", "token")
    monkeypatch.delenv("JIRA_PAT", raising=False)
    port = site.url.rsplit(":", 1)[1]
    for url, cause in ((f"http://127.0.0.1:{free_port()}", "connection refused"),
                       (f"https://127.0.0.1:{port}", "TLS failed"),
                       (f"{site.url}/browse", "is not a Jira site")):
        monkeypatch.setenv("JIRA_URL", url)
        started = time.monotonic()
        result = CliRunner().invoke(main, ["sweep", "--once", "--dry-run"])
        assert time.monotonic() - started < 15
        assert result.exit_code == 2 and url in result.output and cause in result.output, result.output
        assert "Traceback" not in result.output
    monkeypatch.setenv("JIRA_URL", f"http://127.0.0.1:{free_port()}")
    doctor = CliRunner().invoke(main, ["doctor"])
    assert "no answer from http://127.0.0.1:" in doctor.output and "(connection refused)" in doctor.output


def test_no_tracebacks_for_a_busy_port_a_bad_port_or_a_malformed_seed(tmp_path, monkeypatch):
    import json
    import socket

    from click.testing import CliRunner

    import jsm_autopilot.cli.live  # noqa: F401  (registers the commands)
    from jsm_autopilot.cli.main import main

    monkeypatch.setenv("JSM_AUTOPILOT_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("JIRA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("JIRA_USER", "a@b.example")
    monkeypatch.setenv("JIRA_API_TOKEN", "t")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in ("serve", "sandbox"):
            result = CliRunner().invoke(main, [command, "--port", str(port)])
            assert result.exit_code == 2 and f"port {port} is in use; choose --port" in result.output, result.output
    for bad in ("0", "70000"):
        assert CliRunner().invoke(main, ["serve", "--port", bad]).exit_code == 2
    defaults = {(command, p.name): p.default for command in ("serve", "sandbox") for p in main.commands[command].params}
    assert defaults[("serve", "host")] == "127.0.0.1" and defaults[("serve", "port")] == 8080 and defaults[("sandbox", "port")] == 8090
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"issues": [{"type": "Incident", "summary": "no reporter"}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["sandbox", "--seed", str(seed), "--port", str(port)])
    assert result.exit_code == 2 and str(seed) in result.output and "issues.0.reporter: Field required" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_half_open_connections_do_not_starve_real_deliveries(site_factory, tmp_path):
    """150 clients that connect and never finish their request: a real delivery and /healthz are
    still answered at once (waitress's connection limit and idle timeout are set, not defaulted)."""
    import socket
    import time

    from tests.test_serve_process import ServeProcess, deliver

    site = site_factory(T0)
    serve = ServeProcess(site, tmp_path)
    serve.start()
    stalled = []
    try:
        for _ in range(150):
            sock = socket.create_connection(("127.0.0.1", serve.port))
            sock.sendall(b"POST /webhooks/jira HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
            stalled.append(sock)
        started = time.monotonic()
        assert requests.get(f"{serve.url}/healthz", timeout=5).status_code == 200
        assert deliver(serve.url, "SD-1", "real-delivery")
        assert time.monotonic() - started < 3
    finally:
        for sock in stalled:
            sock.close()
        serve.process.terminate()
        serve.process.wait(timeout=30)


def test_a_firing_whose_note_failed_is_reported_as_partly_applied_and_the_note_follows(site_factory, tmp_path):
    from jsm_autopilot.connector.executor import Executor
    from jsm_autopilot.store.event_store import EventStore
    from jsm_autopilot.store.late_notes import LateNotes

    site = site_factory(T0)
    key = waiting_ticket_due_a_reminder(site)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    client = site.client()
    executor = Executor(client, site.settings, late_notes=LateNotes(store))
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 1.0, "statuses": [500], "paths": ["/comment"], "methods": ["POST"]}).raise_for_status()
    report = sweep_once(client, site.settings, executor=executor)
    assert report.failures == [] and report.by_rule["clarification.reminder"] == 1
    assert len(report.partial) == 1 and "kept to be written by the next sweep" in report.partial[0]
    assert len(site.comments_by_bot(key, public=True)) == 1 and site.comments_by_bot(key, public=False) == []
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0}).raise_for_status()
    later = sweep_once(client, site.settings, executor=executor)
    assert later.late_notes_written == 1 and later.firings_applied == 0
    [note] = site.comments_by_bot(key, public=False)
    assert "clarification.reminder" in str(note["body"])
    assert sweep_once(client, site.settings, executor=executor).late_notes_written == 0
    assert len(site.comments_by_bot(key, public=False)) == 1
    store.dispose()


def test_a_sweep_that_meets_refused_credentials_pauses_the_service_too(site_factory, tmp_path):
    from jsm_autopilot.service.serve import Service
    from jsm_autopilot.store.event_store import EventStore
    from tests.site import BOT

    site = site_factory(T0)
    waiting_ticket_due_a_reminder(site)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    service = Service(site.settings, store, site.client(), b"secret")
    service.health.probe()  # the service checked Jira at start; the token is revoked afterwards
    requests.post(f"{site.url}/_sandbox/credentials", json={"revoked": [BOT]}).raise_for_status()
    assert service.scheduled_sweep() is None  # one error line, no traceback
    assert service.health.paused
    assert service.scheduled_sweep() is None  # later sweeps wait for the credentials
    store.dispose()


def test_a_sweep_works_on_several_tickets_at_once_within_its_limit_and_slows_down_on_429(site_factory, caplog):
    """Issue 16: different tickets side by side (limits.concurrency, 4), never more; each ticket
    its one reminder; a 429 halves how many run at once."""
    site = site_factory(T0)
    keys = waiting_tickets_due_a_reminder(site, 12)
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0, "latency_ms": 40}).raise_for_status()
    baseline = requests.get(f"{site.url}/_sandbox/load").json()["most_in_flight"]
    report = sweep_once(site.client(), site.settings)
    most = requests.get(f"{site.url}/_sandbox/load").json()["most_in_flight"]
    assert report.by_rule["clarification.reminder"] == 12 and report.failures == []
    assert baseline <= 1 and 2 <= most <= 4
    assert all(len(site.comments_by_bot(key, public=True)) == 1 for key in keys)

    more = waiting_tickets_due_a_reminder(site, 12)
    caplog.set_level("INFO", logger="jsm_autopilot.pool")
    requests.post(f"{site.url}/_sandbox/faults", json={"rate": 0.3, "statuses": [429], "methods": ["PUT", "POST"],
                                                      "paths": ["/issue/"]}).raise_for_status()
    throttled = sweep_once(site.client(max_attempts=12), site.settings)
    assert "Jira asked to slow down" in caplog.text
    assert throttled.by_rule["clarification.reminder"] == 12
    assert all(len(site.comments_by_bot(key, public=True)) == 1 for key in more)
