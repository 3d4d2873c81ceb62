"""waitress for `serve`, without its main loop spinning while task threads answer.

Since waitress 2.1 (Pylons/waitress#364, for #349) a task thread flushes its own output inside
`write_soon`, holding the channel's output lock during the socket send. In that moment the main
loop sees output waiting (`writable()`), cannot take the lock, and select() reports the socket
writable at once: it spins, holding the interpreter lock, until the task thread gets it back,
which takes a switch interval. With deliveries answered together after a group commit, the
receiver under `bench.intake`'s load made 84 loop turns a delivery, and the loop took 0.4 ms of
its 1.1 ms of CPU. Nothing is lost by waiting instead: a task that leaves output unsent pulls the
trigger (waitress does, with its default `send_bytes` of 1), and so does every task when it ends.
"""

from __future__ import annotations

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer


class TaskFlushingChannel(HTTPChannel):
    def writable(self) -> bool:
        wanted = super().writable()
        if wanted and self.requests and not (self.will_close or self.close_when_flushed):
            if not self.outbuf_lock.acquire(False):
                return False  # a task thread is sending; it wakes the loop if anything is left
            self.outbuf_lock.release()
        return wanted


def create_server(app, **options):
    """`waitress.create_server` with the channel above; the options are waitress's."""
    sockets: dict = {}
    server = waitress.create_server(app, map=sockets, **options)
    for listener in sockets.values():  # one per address the host resolves to
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = TaskFlushingChannel
    return server
