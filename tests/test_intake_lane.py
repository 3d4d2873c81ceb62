"""Webhook deliveries through `serve`'s waitress server, answered by the intake thread
(service/http_server.py, IntakeDispatcher): the same answers as the Flask route, one commit for what arrives
together, answers in order on a connection, and nothing acknowledged that was not stored."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from types import SimpleNamespace

import pytest

from jsm_autopilot.errors import StoreUnavailable
from jsm_autopilot.service.http_server import IntakeDispatcher, create_server
from jsm_autopilot.webhooks.receiver import create_receiver
from tests.test_webhook_receiver import LIMIT, NOW, SECRET, _capture, _headers

OTHER_PROJECT = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"key": "KT-7", "fields": {}}}).encode()


class Seen:
    """The Flask app's requests, as its `before_request` hook sees them (the lane's never reach it)."""

    def __init__(self, app):
        self.paths: list[str] = []
        from flask import request

        app.before_request(lambda: self.paths.append(request.path))


def serving(store):
    app = create_receiver(store, "TES", SECRET, LIMIT, clock=lambda: NOW)
    seen = Seen(app)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, seen


@pytest.fixture
def served(store):
    server, seen = serving(store)
    yield server, seen
    server.close()


def post(server, body: bytes, identifier: str, signature: str | None = "sign", **headers) -> tuple[int, dict, str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=20)
    try:
        connection.request("POST", "/webhooks/jira", body, _headers(body, identifier, signature, headers))
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read()), answer.getheader("Content-Type")
    finally:
        connection.close()


DELIVERIES = [  # (body, identifier, signature)
    (_capture(), "lane-1", "sign"),
    (_capture(), "lane-1", "sign"),  # a re-delivery
    (OTHER_PROJECT, "lane-2", "sign"),  # another project's: ignored
    (_capture(), "lane-3", "sha256=" + "0" * 64),  # forged
    (b"<xml/>", "lane-4", "sign"),
]


def test_the_lane_answers_every_kind_of_delivery_as_the_flask_route_does(served, store, tmp_path):
    from jsm_autopilot.store.event_store import EventStore

    server, seen = served
    through_lane = [post(server, body, identifier, signature) for body, identifier, signature in DELIVERIES]
    assert seen.paths == []  # none reached the Flask app
    reference = EventStore(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.migrate()
    flask = create_receiver(reference, "TES", SECRET, LIMIT, clock=lambda: NOW).test_client()
    through_flask = []
    for body, identifier, signature in DELIVERIES:
        answer = flask.post("/webhooks/jira", data=body, headers=_headers(body, identifier, signature, {}))
        through_flask.append((answer.status_code, answer.json, answer.content_type))
    assert through_lane == through_flask
    assert [status for status, *_ in through_lane] == [202, 202, 202, 401, 400]
    assert [answer["status"] for _, answer, _ in through_lane[:3]] == ["accepted", "duplicate", "ignored"]
    assert {(event.identifier, event.status) for event in store.list_events()} == {("lane-1", "pending"), ("lane-2", "ignored")}
    reference.dispose()


def test_a_chunked_delivery_is_the_lanes_and_one_too_large_or_to_another_path_is_flasks(served, store):
    """waitress puts a chunked body together and gives it a Content-Length before the request is
    complete; too large a body goes on to Flask, whose 413 it was before."""
    server, seen = served
    body = _capture()
    connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=20)
    connection.request("POST", "/webhooks/jira", iter([body[:100], body[100:]]), _headers(body, "chunked-1", "sign", {}),
                       encode_chunked=True)
    answer = connection.getresponse()
    assert (answer.status, json.loads(answer.read())["status"]) == (202, "accepted")
    assert seen.paths == []
    too_large = b"{" + b" " * LIMIT + b"}"
    assert post(server, too_large, "large-1")[:2] == (413, {"error": f"body larger than {LIMIT} bytes"})
    elsewhere = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=20)
    elsewhere.request("POST", "/healthz", body, _headers(body, "elsewhere-1", "sign", {}))
    assert elsewhere.getresponse().status == 405
    assert seen.paths == ["/webhooks/jira", "/healthz"]
    assert [(event.identifier, event.body) for event in store.list_events()] == [("chunked-1", body)]


class Gated:
    """The store, with each batch's size noted and the first commit held until `release` is set."""

    def __init__(self, store):
        self.store, self.sizes = store, []
        self.release, self.holding = threading.Event(), threading.Event()

    def add_many(self, deliveries, now, settle):
        self.sizes.append(len(deliveries))
        if len(self.sizes) == 1:
            self.holding.set()
            assert self.release.wait(20)
        return self.store.add_many(deliveries, now, settle)


def handed_over(server, count: int) -> threading.Event:
    """Set once the server has handed `count` more requests to its dispatcher (the intake thread's
    queue, for deliveries)."""
    dispatcher, seen, done = server.task_dispatcher, [], threading.Event()
    hand_over = dispatcher.add_task

    def counting(task) -> None:
        hand_over(task)
        seen.append(task)
        if len(seen) >= count:
            done.set()

    dispatcher.add_task = counting
    return done


def test_deliveries_that_arrive_during_a_commit_are_stored_together_in_the_next(store):
    gated = Gated(store)
    server, _ = serving(gated)
    try:
        answers: dict[str, tuple] = {}

        def send(identifier: str) -> None:
            answers[identifier] = post(server, _capture(), identifier)

        first = threading.Thread(target=send, args=("first",))
        first.start()
        assert gated.holding.wait(20)
        queued = handed_over(server, 5)
        later = [threading.Thread(target=send, args=(f"later-{n}",)) for n in range(5)]
        for thread in later:
            thread.start()
        assert queued.wait(20)
        assert answers == {}  # nobody is answered before the commit that holds their row
        gated.release.set()
        for thread in [first, *later]:
            thread.join(20)
        assert gated.sizes == [1, 5]
        assert {identifier: answer[:2] for identifier, answer in answers.items()} == {
            identifier: (202, {"status": "accepted", "identifier": identifier}) for identifier in ["first", *(f"later-{n}" for n in range(5))]}
        assert len(store.list_events()) == 6
    finally:
        gated.release.set()
        server.close()


def read_answers(stream, count: int) -> list[tuple[int, bytes]]:
    answers = []
    for _ in range(count):
        status = int(stream.readline().split()[1])
        length = 0
        while (line := stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            length = int(value) if name.lower() == "content-length" else length
        answers.append((status, stream.read(length)))
    return answers


def test_pipelined_requests_on_one_connection_are_answered_in_the_order_sent(served, store):
    server, _ = served
    requests = b""
    for identifier in ("pipe-1", "pipe-2"):
        body = _capture()
        head = "".join(f"{name}: {value}\r\n" for name, value in _headers(body, identifier, "sign", {}).items())
        requests += f"POST /webhooks/jira HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body
    requests += b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.effective_port), timeout=20) as connection:
        connection.sendall(requests)
        answers = read_answers(connection.makefile("rb"), 3)
    assert [(status, json.loads(body)) for status, body in answers] == [
        (202, {"status": "accepted", "identifier": "pipe-1"}), (202, {"status": "accepted", "identifier": "pipe-2"}), (200, {"status": "ok"})]


class Failing:
    def __init__(self, error: Exception):
        self.error = error

    def add_many(self, *_):
        raise self.error


@pytest.mark.parametrize("error, status, answer", [
    (StoreUnavailable("disk full"), 503, {"error": "store unavailable, retry later"}),
    (RuntimeError("a bug"), 500, {"error": "internal error"}),
])
def test_a_store_that_fails_is_an_error_answer_and_the_lane_answers_the_next(store, caplog, error, status, answer):
    failing = Failing(error)
    server, _ = serving(failing)
    try:
        assert post(server, _capture(), "failing-1")[:2] == (status, answer)
        assert error.args[0] in caplog.text
        failing.add_many = store.add_many
        assert post(server, _capture(), "failing-2")[:2] == (202, {"status": "accepted", "identifier": "failing-2"})
    finally:
        server.close()
    assert [event.identifier for event in store.list_events()] == ["failing-2"]


def test_a_connection_that_cannot_be_answered_leaves_the_others_answered(store, caplog):
    app = create_receiver(store, "TES", SECRET, LIMIT, clock=lambda: NOW)
    dispatcher = IntakeDispatcher(app.wsgi_app)
    try:
        def channel(identifier: str, service):
            body = _capture()
            headers = {name.upper().replace("-", "_"): value for name, value in _headers(body, identifier, "sign", {}).items()}
            request = SimpleNamespace(headers=headers, content_length=len(body), get_body_stream=lambda: io.BytesIO(body))
            return SimpleNamespace(requests=[request], service=service)

        answered = []

        def broken():
            raise OSError("connection reset")

        gone, fine = channel("gone", broken), channel("fine", lambda: answered.append(fine.requests[0].intake_answer))
        dispatcher.answer([gone, fine])
        assert answered == [(202, json.dumps({"status": "accepted", "identifier": "fine"}).encode())]
        assert "connection reset" in caplog.text
        assert {event.identifier for event in store.list_events()} == {"gone", "fine"}  # stored; Jira's retry is a duplicate
    finally:
        dispatcher.shutdown()


def test_a_batch_that_fails_outside_the_store_is_logged_and_the_thread_answers_the_next(served, store, caplog):
    import logging

    server, _ = served
    dispatcher = server.task_dispatcher
    failed = threading.Event()

    class Told(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "webhook deliveries failed":
                failed.set()

    told = Told()
    logging.getLogger("jsm_autopilot.webhooks").addHandler(told)
    try:
        with dispatcher._arrival:  # a connection that lost its request: a bug, not a delivery
            dispatcher._arrived.append(SimpleNamespace(requests=[]))
            dispatcher._arrival.notify()
        # The broken batch is over before the next delivery arrives (else both share one batch).
        assert failed.wait(10), "the failed batch was logged"
        assert post(server, _capture(), "after-1")[:2] == (202, {"status": "accepted", "identifier": "after-1"})
    finally:
        logging.getLogger("jsm_autopilot.webhooks").removeHandler(told)


def test_a_delivery_still_waiting_at_shutdown_is_never_acknowledged(store):
    gated = Gated(store)
    server, _ = serving(gated)
    answers: dict[str, object] = {}

    def send(identifier: str) -> None:
        try:
            answers[identifier] = post(server, _capture(), identifier)[:2]
        except (http.client.RemoteDisconnected, ConnectionError) as error:
            answers[identifier] = type(error).__name__

    try:
        first = threading.Thread(target=send, args=("in-commit",))
        first.start()
        assert gated.holding.wait(20)
        queued = handed_over(server, 1)
        second = threading.Thread(target=send, args=("waiting",))
        second.start()
        assert queued.wait(20)
        server.task_dispatcher.shutdown(timeout=0.2)  # the intake thread is still in the first commit
        second.join(20)
        assert answers == {"waiting": "RemoteDisconnected"}
        gated.release.set()
        first.join(20)
        assert answers["in-commit"] == (202, {"status": "accepted", "identifier": "in-commit"})
        server.task_dispatcher._thread.join(20)
        assert not server.task_dispatcher._thread.is_alive()
        assert [event.identifier for event in store.list_events()] == ["in-commit"]
    finally:
        gated.release.set()
        server.close()


def test_a_server_that_cannot_listen_leaves_no_intake_thread_behind(store):
    app = create_receiver(store, "TES", SECRET, LIMIT, clock=lambda: NOW)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        before = {thread for thread in threading.enumerate() if thread.name == "webhook-intake"}
        with pytest.raises(OSError):
            create_server(app, host="127.0.0.1", port=taken.getsockname()[1], threads=2)
    assert {thread for thread in threading.enumerate() if thread.name == "webhook-intake"} == before
