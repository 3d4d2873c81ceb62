"""Acting on a ticket exactly once when sweeps and webhook workers, on several replicas, overlap.

Jira has no compare-and-set, so every actor holds the ticket (a lease row in the shared store)
while it decides and writes. A sweep decides from a search page read earlier; if another actor
wrote to the ticket after that read, the sweep reads the ticket again before acting.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterator

from jsm_autopilot.connector.holds import Hold
from jsm_autopilot.errors import TicketBusy
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.webhooks.receiver import utc_now


@dataclass
class TicketGuard:
    store: EventStore
    holder: str
    clock: Callable[[], datetime] = utc_now
    ttl: timedelta = timedelta(minutes=2)
    wait: timedelta = timedelta(seconds=15)
    _pause: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def hold(self, key: str) -> Iterator[Hold]:
        name = f"ticket:{key}"
        # Per thread: the sweep and the workers of one process share this guard, and a lease is
        # re-entrant for its holder, so the holder must name the thread.
        holder = f"{self.holder}/{threading.get_ident()}"
        deadline = self.clock() + self.wait
        while not self.store.take_lease(name, holder, self.clock(), self.ttl):
            if self.clock() >= deadline:
                raise TicketBusy(f"{key} is being handled elsewhere", key)
            self._pause.wait(0.05)
        held = Hold(key, self.store.last_write(name))
        try:
            yield held
        finally:
            self.store.drop_lease(name, holder, held.wrote_at)
