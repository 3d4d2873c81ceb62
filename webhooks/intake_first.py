"""Deliveries before work: while deliveries are arriving, workers wait a little before they take
the next event.

Profiling `bench.intake` showed the workers' store writes and Jira reads, not the receiver, halving
intake during a burst: they queue for the same write lock and the same cores. What Jira needs
during a burst is a fast 2xx; the work can come a moment later, and gets cheaper for waiting, as a
later claim takes a ticket's whole burst at once. The wait is bounded (`webhooks.yield_to_intake_seconds`)
so that a burst that never ends still leaves each worker one claim per wait.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

# Deliveries closer together than this are one burst. Between two requests of one client the
# receiver is idle for a moment, so "nothing in flight" alone would open the gate mid-burst.
BURST_GAP = 0.05


class IntakeFirst:
    def __init__(self, clock: Callable[[], float] = time.monotonic, gap: float = BURST_GAP) -> None:
        self.clock, self.gap = clock, gap
        self._quiet = threading.Condition(threading.Lock())
        self._in_flight = 0
        self._last_arrival = float("-inf")
        self._answering = _Answering(self)

    def answering(self) -> "_Answering":
        """Around deliveries being answered (one, or the intake thread's batch), from their checks
        to their answers. (A class, not a generator context manager: on every delivery, the
        generator's machinery cost more than the count.)"""
        return self._answering

    def _quiet_for(self) -> float:
        """0 while a delivery is answered, else how long since the last one arrived."""
        return 0.0 if self._in_flight else self.clock() - self._last_arrival

    def wait_until_quiet(self, at_most: float) -> bool:
        """True once no delivery has arrived for `gap` seconds; False after `at_most` seconds."""
        deadline = self.clock() + at_most
        with self._quiet:
            while (quiet := self._quiet_for()) < self.gap:
                left = deadline - self.clock()
                if left <= 0:
                    return False
                self._quiet.wait(min(left, self.gap - quiet))
            return True


class _Answering:
    __slots__ = ("intake_first",)

    def __init__(self, intake_first: IntakeFirst):
        self.intake_first = intake_first

    def __enter__(self) -> None:
        intake_first = self.intake_first
        with intake_first._quiet:
            intake_first._in_flight += 1
            intake_first._last_arrival = intake_first.clock()

    def __exit__(self, *exc) -> None:
        # No notify: a waiting worker looks again within `gap` anyway, and waking it on every
        # answer cost the receiver more than the worker gained.
        with self.intake_first._quiet:
            self.intake_first._in_flight -= 1
