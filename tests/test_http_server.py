"""`serve`'s waitress channel: its main loop waits while a task thread sends, and loses no output;
an answer whose body is known whole leaves in one send, byte for byte what waitress sends."""

from __future__ import annotations

import http.client
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import waitress
from waitress.adjustments import Adjustments

from jsm_autopilot.service.http_server import TaskFlushingChannel, create_server


@pytest.fixture
def channel():
    ours, theirs = socket.socketpair()
    made = TaskFlushingChannel(server=SimpleNamespace(active_channels={}), sock=ours, addr=("127.0.0.1", 0), adj=Adjustments(), map={})
    yield made
    ours.close()
    theirs.close()


def output_waiting(channel: TaskFlushingChannel) -> None:
    channel.outbufs[0].append(b"HTTP/1.1 202 Accepted\r\n")
    channel.total_outbufs_len = len(b"HTTP/1.1 202 Accepted\r\n")


def held_by_another_thread(lock) -> threading.Event:
    """Set the returned event to let go."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            done.wait(10)

    threading.Thread(target=hold, daemon=True).start()
    taken.wait(10)
    return done


def test_the_loop_does_not_poll_a_channel_whose_task_is_sending_its_answer(channel):
    channel.requests = [object()]  # a task is answering
    output_waiting(channel)
    assert channel.writable()  # the lock is free: the loop may flush
    release = held_by_another_thread(channel.outbuf_lock)
    try:
        assert not channel.writable()  # the task sends and pulls the trigger if anything is left
    finally:
        release.set()


def test_output_of_a_finished_task_or_a_closing_channel_is_flushed_whoever_holds_the_lock(channel):
    output_waiting(channel)
    release = held_by_another_thread(channel.outbuf_lock)
    try:
        assert channel.writable()  # no task: nobody else will send it
        channel.requests = [object()]
        channel.close_when_flushed = True
        assert channel.writable()
    finally:
        release.set()
    channel.close_when_flushed = False
    channel.outbufs[0].skip(channel.total_outbufs_len, True)
    channel.total_outbufs_len = 0
    assert not channel.writable()


def serving(app, make=create_server, **options):
    """`make`: serve's server by default, or plain waitress's to compare with."""
    server = make(app, host="127.0.0.1", port=0, **{"threads": 4, **options})
    threading.Thread(target=server.run, daemon=True).start()
    return server


def test_a_response_larger_than_the_output_buffer_arrives_whole_while_its_task_still_writes():
    """Above `outbuf_high_watermark` the task waits for the main loop to flush: a channel that
    never let the loop write while a task runs would hang here until the channel timed out."""
    chunk = b"x" * 65536

    def streaming(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (chunk for _ in range(64))  # 4 MiB through a 256 KiB buffer

    server = serving(streaming, outbuf_high_watermark=262144, channel_timeout=30)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=20)
        connection.request("GET", "/")
        assert len(connection.getresponse().read()) == 64 * 65536
    finally:
        server.close()


def test_answers_sent_at_the_same_moment_on_many_connections_all_arrive():
    gate = threading.Barrier(8)

    def together(environ, start_response):
        gate.wait(10)  # answers leave together, as after a group commit
        start_response("202 Accepted", [("Content-Type", "application/json")])
        return [b'{"status": "accepted"}']

    server = serving(together, threads=8)

    def exchange(_n: int) -> list[int]:
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=20)
        statuses = []
        for _ in range(20):
            connection.request("POST", "/", b"{}")
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
        return statuses

    try:
        with ThreadPoolExecutor(8) as clients:
            answered = [status for statuses in clients.map(exchange, range(8)) for status in statuses]
        assert answered == [202] * 160
    finally:
        server.close()


def answering(environ, start_response):
    """Answers of every shape waitress frames differently."""
    path = environ["PATH_INFO"]
    if path == "/json":
        start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", "22")])
        return [b'{"status": "accepted"}']
    if path == "/no-length":  # one chunk: waitress sets Content-Length itself
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"no length given"]
    if path == "/stream":  # no length known: chunked
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (part for part in (b"one ", b"two"))
    if path == "/excess":  # more than Content-Length: waitress cuts it
        start_response("200 OK", [("Content-Length", "4")])
        return [b"four and more"]
    if path == "/empty":  # a body where none may be: waitress drops it
        start_response("204 No Content", [])
        return [b"dropped"]
    start_response("200 OK", [("Content-Length", "5")])  # HEAD: the app sends no body
    return [b"" if environ["REQUEST_METHOD"] == "HEAD" else b"hello"]


def raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return re.sub(rb"Date: [^\r]*\r\n", b"", received)


@pytest.mark.parametrize("request_line", [b"GET /json", b"GET /no-length", b"GET /stream", b"GET /excess", b"DELETE /empty",
                                          b"HEAD /head", b"GET /head"])
def test_answers_are_byte_for_byte_what_waitress_sends(request_line):
    plain, ours = serving(answering, make=waitress.create_server), serving(answering)
    request = request_line + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    try:
        expected = raw_exchange(plain.effective_port, request)
        assert expected.startswith(b"HTTP/1.1 ")
        assert raw_exchange(ours.effective_port, request) == expected
    finally:
        plain.close()
        ours.close()


def test_an_answer_with_its_whole_body_leaves_in_one_send(monkeypatch):
    """waitress alone hands the header and the body to the socket apart: two sends, two releases of
    the interpreter lock, two segments for Jira to wait for."""
    handed = []
    write_soon = TaskFlushingChannel.write_soon
    monkeypatch.setattr(TaskFlushingChannel, "write_soon", lambda channel, data: handed.append(bytes(data)) or write_soon(channel, data))
    server = serving(answering)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
        for _ in range(3):  # one connection kept alive
            connection.request("POST", "/json", b"{}")
            assert connection.getresponse().read() == b'{"status": "accepted"}'
        assert len(handed) == 3
        assert all(data.startswith(b"HTTP/1.1 202 Accepted\r\n") and data.endswith(b'\r\n\r\n{"status": "accepted"}') for data in handed)
    finally:
        server.close()


def test_the_installed_waitress_is_one_whose_internals_this_service_was_tested_on():
    """service/http_server.py subclasses waitress's channel, task and dispatcher: another minor
    release may change them. pyproject.toml pins the range; this says so plainly if it is bypassed."""
    from importlib.metadata import version

    from jsm_autopilot.service.http_server import TESTED_WAITRESS

    installed = version("waitress")
    assert ".".join(installed.split(".")[:2]) in TESTED_WAITRESS, (
        f"waitress {installed} is installed, but service/http_server.py relies on internals of waitress "
        f"{', '.join(TESTED_WAITRESS)}.x only: run the tests of test_http_server.py and test_intake_lane.py against it, "
        "then add it to TESTED_WAITRESS and widen the pin in pyproject.toml")


def test_waitress_internals_are_used_in_service_http_server_only():
    import ast

    from tests.conftest import ROOT

    internal = [f"{path.relative_to(ROOT)}: {node.module}" for folder in ("cli", "config", "connector", "rules", "sandbox", "service",
                                                                          "store", "webhooks", "bench")
                for path in (ROOT / folder).glob("*.py") if path.name != "http_server.py"
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("waitress.")]
    assert internal == []
