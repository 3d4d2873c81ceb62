"""`serve`'s waitress channel: its main loop waits while a task thread sends, and loses no output."""

from __future__ import annotations

import http.client
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from waitress.adjustments import Adjustments

from service.http_server import TaskFlushingChannel, create_server


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


def held_by_another_thread(lock) -> tuple[threading.Event, threading.Event]:
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            done.wait(10)

    threading.Thread(target=hold, daemon=True).start()
    taken.wait(10)
    return taken, done


def test_the_loop_does_not_poll_a_channel_whose_task_is_sending_its_answer(channel):
    channel.requests = [object()]  # a task is answering
    output_waiting(channel)
    assert channel.writable()  # the lock is free: the loop may flush
    _, release = held_by_another_thread(channel.outbuf_lock)
    try:
        assert not channel.writable()  # the task sends and pulls the trigger if anything is left
    finally:
        release.set()


def test_output_of_a_finished_task_or_a_closing_channel_is_flushed_whoever_holds_the_lock(channel):
    output_waiting(channel)
    _, release = held_by_another_thread(channel.outbuf_lock)
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


def serving(app, **options):
    server = create_server(app, host="127.0.0.1", port=0, **{"threads": 4, **options})
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
