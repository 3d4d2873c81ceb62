"""waitress for `serve`: its main loop does not spin while task threads answer, and an answer
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
"""

from __future__ import annotations

import waitress
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import WSGITask

from jsm_autopilot.service.intake_lane import IntakeDispatcher, answered


class OneSendTask(WSGITask):
    """Header and body in one send when the body is known whole: waitress sends them apart, which
    costs each 202 a second system call, a second release of the interpreter lock and a second
    segment for the client to wait for."""

    def execute(self):
        if not answered(self):  # a delivery the intake thread answered (service/intake_lane.py)
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
