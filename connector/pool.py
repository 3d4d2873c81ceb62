"""Working on several tickets at once, within what Jira allows.

One ticket's firings stay in order (a ticket is one task); different tickets run side by side on
a bounded pool. Jira's rate limit is met by the client's retries (honouring Retry-After) and by
the pool itself: a task that met a 429 halves how many run at once, and every 20 tasks without
one let one more run again, up to the configured limit (additive increase, multiplicative
decrease, as TCP does). At most twice the limit wait in line, so a sweep over 10,000 tickets
holds no more than one over 100.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from jsm_autopilot.connector.client import JiraClient

log = logging.getLogger("jsm_autopilot.pool")
GROW_AFTER = 20  # tasks without a 429 before one more may run


class TicketPool:
    def __init__(self, client: JiraClient, limit: int):
        self.client, self.most = client, max(1, limit)
        self.allowed = self.most
        self._running = 0
        self._calm = 0
        self._changed = threading.Condition()
        self._queued = threading.BoundedSemaphore(2 * self.most)
        self._executor = ThreadPoolExecutor(max_workers=self.most, thread_name_prefix="sweep") if self.most > 1 else None
        self.errors: list[BaseException] = []

    def submit(self, task: Callable[[], None]) -> None:
        if self._executor is None:
            task()  # one at a time: no threads at all
            return
        self._queued.acquire()
        self._executor.submit(self._run, task)

    def _run(self, task: Callable[[], None]) -> None:
        with self._changed:
            while self._running >= self.allowed:
                self._changed.wait()
            self._running += 1
        throttled_before = self.client.calls[429]
        try:
            task()
        except BaseException as error:  # a bug in one ticket's task must not end the sweep silently
            log.exception("a sweep task failed")
            self.errors.append(error)
        finally:
            throttled = self.client.calls[429] > throttled_before
            with self._changed:
                self._running -= 1
                self._adapt(throttled)
                self._changed.notify_all()
            self._queued.release()

    def _adapt(self, throttled: bool) -> None:
        if throttled:
            if self.allowed > 1:
                self.allowed = max(1, self.allowed // 2)
                log.info("Jira asked to slow down: %d ticket(s) at once", self.allowed)
            self._calm = 0
            return
        self._calm += 1
        if self._calm >= GROW_AFTER and self.allowed < self.most:
            self.allowed += 1
            self._calm = 0

    def __enter__(self) -> "TicketPool":
        return self

    def __exit__(self, *exc) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
