"""All of waitress that `serve` relies on beyond its public API, in one module (issue 30): the
versions the tests ran on are pinned in pyproject.toml, and tests/test_http_server.py says
clearly when another is installed.

waitress for `serve`: its main loop does not spin while task threads answer, and an answer
whose body is known whole leaves in one send.

Since waitress 2.1 (Pylons/waitress#364, for #349) a task thread flushes its own output inside
`write_soon`, holding the channel's output lock during the socket send. In that moment the main
loop sees output waiting (`writable()`), cannot take the lock, and select() reports the socket
writable at once: it spins, holding the interpreter lock, until the task thread gets it back,
which takes a switch interval. With deliveries answered together after a group commit, the
receiver under `bench.intake`'s load made 84 loop turns a delivery, and the loop took 0.4 ms of
its 1.1 ms of CPU. Nothing is lost by waiting instead: a task that leaves output unsent pulls the
trigger (waitress does, with its default `send_bytes` of 1), and so does every task when it ends.

waitress hands a response's header and body to the socket in two sends. One send instead: the
receiver alone with no store under the same load went from 1,600-1,680 to 2,030-2,270 deliveries
a second (CPU 0.50 -> 0.36-0.41 ms a delivery), with SQLite from 1,060-1,180 to 1,300-1,380.

Webhook deliveries answered in batches by one thread, instead of one waitress thread each.

Measured under `bench.intake` (2 cores, a VM): a third of `serve`'s CPU went to the kernel
switching threads, 13 switches a delivery against bare Flask's 8. Each delivery handed from the
main loop to a task thread, which then slept until the group commit that held its row and woke
to answer: two more sleeps and wake-ups a delivery, each also a wait for the interpreter lock.
Here the main loop hands a complete delivery to one intake thread, woken only when it is idle;
that thread checks every delivery that has arrived, stores them in one commit (the same group
commit as the Flask route's), and answers each on its own connection. The task threads still
answer everything else, and deliveries the lane does not take (too large, or refused by waitress's
parser), through the WSGI app as before.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

import waitress
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask
from werkzeug.http import HTTP_STATUS_CODES

from jsm_autopilot.webhooks.delivery import DELIVERY_HEADERS
from jsm_autopilot.webhooks.receiver import INTERNAL_ERROR

log = logging.getLogger("jsm_autopilot.webhooks")
# The waitress releases whose internals this module was written and tested against.
TESTED_WAITRESS = ("3.0",)
# The delivery's headers by waitress's names (upper case, underscores), with the names Intake reads.
WAITRESS_HEADERS = tuple((name, wsgi_name.removeprefix("HTTP_")) for name, wsgi_name in DELIVERY_HEADERS)


class IntakeDispatcher(ThreadedTaskDispatcher):
    """waitress's task dispatcher, with webhook deliveries diverted to the intake thread.

    `lane` is the receiver's FastLane (its `intake`, `path` and `max_body_bytes`)."""

    def __init__(self, lane):
        super().__init__()
        self.lane = lane
        self._arrived: deque[HTTPChannel] = deque()
        self._arrival = threading.Condition(threading.Lock())
        self._stopping = False
        self._thread = threading.Thread(target=self._answer_arrivals, name="webhook-intake", daemon=True)
        self._thread.start()

    def takes(self, channel) -> bool:
        """A complete, well-formed `POST` to the webhook path with a Content-Length within the limit."""
        if not isinstance(channel, HTTPChannel) or not channel.requests:
            return False
        request = channel.requests[0]
        if request.command != "POST" or request.path != self.lane.path or request.error is not None:
            return False
        length = _length(request)
        return length is not None and length <= self.lane.max_body_bytes

    def add_task(self, task) -> None:
        if not self.takes(task):
            return super().add_task(task)
        with self._arrival:
            self._arrived.append(task)
            self._arrival.notify()  # wakes the intake thread only if it waits: one wake-up a batch

    def _answer_arrivals(self) -> None:
        while True:
            with self._arrival:
                while not self._arrived and not self._stopping:
                    self._arrival.wait()
                if self._stopping:
                    return
                channels = list(self._arrived)
                self._arrived.clear()
            try:
                self.answer(channels)
            except Exception:  # noqa: BLE001  (a bug here must not end the thread: every later delivery would wait)
                log.exception("webhook deliveries failed")

    def answer(self, channels: list[HTTPChannel]) -> None:
        """Check and store the deliveries, then write each answer on its connection."""
        requests = [channel.requests[0] for channel in channels]  # a connection's request stays first until answered
        try:
            answers = self.lane.intake.answers([_delivery(request) for request in requests])
        except Exception:  # noqa: BLE001  (as a task thread would: log it, answer 500, keep serving)
            log.exception("webhook deliveries failed")
            answers = [INTERNAL_ERROR] * len(requests)
        for channel, request, answer in zip(channels, requests, answers):
            request.intake_answer = answer
            try:
                channel.service()  # writes the answer (`answered`), then queues the connection's next request
            except Exception:  # noqa: BLE001  (one broken connection must not leave the others unanswered)
                log.exception("answering a webhook delivery failed")

    def shutdown(self, cancel_pending=True, timeout=5):
        with self._arrival:
            self._stopping = True
            self._arrival.notify()
        self._thread.join(timeout)
        with self._arrival:
            unanswered, self._arrived = list(self._arrived), deque()
        for channel in unanswered:  # never acknowledged, so Jira delivers them again
            channel.cancel()
        return super().shutdown(cancel_pending, timeout)


def _length(request) -> int | None:
    """The body's length: its Content-Length, which waitress also sets for a chunked body it has
    put together (`request.content_length` stays 0 then)."""
    length = request.headers.get("CONTENT_LENGTH")
    return int(length) if length and length.isascii() and length.isdigit() else None


def _delivery(request) -> tuple[dict[str, str], bytes]:
    headers = request.headers
    body = request.get_body_stream().read(_length(request))
    return {name: headers[key] for name, key in WAITRESS_HEADERS if key in headers}, body


def answered(task) -> bool:
    """Write the intake thread's answer for the task's request, if it has one (True), without the
    WSGI application."""
    answer = getattr(task.request, "intake_answer", None)
    if answer is None:
        return False
    status, body = answer
    task.status = f"{status} {HTTP_STATUS_CODES[status]}"
    task.complete = True
    task.content_length = len(body)
    task.response_headers.extend([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    task.write(body)
    return True


class OneSendTask(WSGITask):
    """Header and body in one send when the body is known whole: waitress sends them apart, which
    costs each 202 a second system call, a second release of the interpreter lock and a second
    segment for the client to wait for."""

    def execute(self):
        if not answered(self):  # a delivery the intake thread answered (IntakeDispatcher above)
            super().execute()

    def write(self, data):
        if self.wrote_header or not self.complete:  # not complete: waitress says start_response was not called
            return super().write(data)
        header = self.build_response_header()
        self.wrote_header = True
        if not self.has_body or self.content_length is None or len(data) > self.content_length:
            self.channel.write_soon(header)
            return super().write(data)  # waitress's own handling: no body, chunks, excess
        self.content_bytes_written += len(data)
        self.channel.write_soon(header + data)


class TaskFlushingChannel(HTTPChannel):
    task_class = OneSendTask

    def writable(self) -> bool:
        wanted = super().writable()
        if wanted and self.requests and not (self.will_close or self.close_when_flushed):
            if not self.outbuf_lock.acquire(False):
                return False  # a task thread is sending; it wakes the loop if anything is left
            self.outbuf_lock.release()
        return wanted


def create_server(app, **options):
    """`waitress.create_server` with the channel above; the options are waitress's. An app with the
    webhook receiver's fast lane (`app.wsgi_app`) gets its deliveries answered by the intake thread."""
    sockets: dict = {}
    lane = getattr(app, "wsgi_app", None)
    if getattr(lane, "intake", None) is not None:
        dispatcher = options["_dispatcher"] = IntakeDispatcher(lane)
        dispatcher.set_thread_count(options.get("threads", Adjustments.threads))
    try:
        server = waitress.create_server(app, map=sockets, **options)
    except BaseException:  # a busy port, say: no threads left behind
        if "_dispatcher" in options:
            options["_dispatcher"].shutdown(timeout=1)
        raise
    for listener in sockets.values():  # one per address the host resolves to
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = TaskFlushingChannel
    return server
