"""Takes stored events, oldest first per ticket, and treats each as "ticket X changed".

It reads the ticket's current state from Jira and runs the same evaluation and executor as the
sweep for that one ticket, so a late, repeated or out-of-order event does no harm, and a missed
one is caught by the next sweep. Failures retry with back-off, then become dead letters.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, Protocol

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.channel import came_by_email, needs_channel
from jsm_autopilot.connector.client import JiraClient, jira_away
from jsm_autopilot.connector.deliveries import apply_delivery, deliveries_to_refresh
from jsm_autopilot.connector.executor import Executor, firing_source
from jsm_autopilot.connector.holds import Guard, NoGuard
from jsm_autopilot.connector.mapping import firing_log
from jsm_autopilot.connector.reading import read_issue, ticket_of
from jsm_autopilot.errors import IssueMappingError, JiraError, JiraRefused, StoreUnavailable, TicketBusy
from jsm_autopilot.rules.actions import Action, due_now
from jsm_autopilot.rules.catalogue import delivery_rules_enabled, evaluate, next_check, next_due
from jsm_autopilot.rules.deliveries import is_delivery
from jsm_autopilot.store.event_store import EventStore, StoredEvent
from jsm_autopilot.store.schedule import TicketSchedule
from jsm_autopilot.webhooks.delivery import is_issue_id
from jsm_autopilot.webhooks.intake_first import IntakeFirst
from jsm_autopilot.webhooks.receiver import utc_now

log = logging.getLogger("jsm_autopilot.worker")


class JiraHealth(Protocol):
    """What a worker tells about Jira's answers, and asks before taking work (service/health.py)."""

    paused: bool
    checked: bool

    def heard(self, error: JiraError) -> bool: ...

    def answered(self) -> None: ...

    def probe(self) -> None: ...


@dataclass
class Worker:
    store: EventStore
    client: JiraClient
    settings: Settings
    executor: Executor
    name: str = "worker-1"
    clock: Callable[[], datetime] = utc_now
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 8
    guard: Guard = field(default_factory=NoGuard)
    count: Callable[[str], None] = lambda outcome: None  # done | retry | failed
    # Shadow mode: decide as usual, hand the actions to `on_dry_run` and write nothing to Jira.
    dry_run: bool = False
    on_dry_run: Callable[[list[Action]], None] = lambda actions: None
    # Told of Jira's failures and successes; while it says Jira refuses the credentials, no event
    # is taken (service/health.py). None: no pause.
    health: JiraHealth | None = None
    # Where the ticket's next due instant is kept for incremental sweeps (store/schedule.py).
    schedule: "TicketSchedule | None" = None
    # Deliveries before work (webhooks/intake_first.py): wait up to this long for the receiver to
    # be quiet before each claim. None: no wait.
    intake_first: IntakeFirst | None = None
    yield_to_intake: float = 0.5

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(600, 5 * 2 ** (attempts - 1)))

    def run_once(self) -> bool:
        """Process one event if one is due; False when there was nothing to do."""
        event = self.store.claim(self.name, self.clock(), self.lease)
        if event is None:
            return False
        self.process(event)
        return True

    def process(self, event: StoredEvent) -> None:
        # What fires now was caused by this event: the audit trail says so.
        source = firing_source.set(f"webhook:{event.identifier}")
        try:
            self._process(event)
        finally:
            firing_source.reset(source)

    def _process(self, event: StoredEvent) -> None:
        try:
            look_again = self._evaluate_ticket(event)
        except JiraRefused as refused:
            if refused.status == 404:
                log.info("%s no longer exists; event done", event.issue, extra={"event_identifier": event.identifier})
                self.store.complete(event, self.clock())
                self.count("done")
                return
            if self.health is not None and self.health.heard(refused):
                # The account, not this event: keep it pending, uncounted, until Jira accepts us again.
                now = self.clock()
                self.store.retry_later(event, now, now + timedelta(seconds=30), str(refused), attempt=False)
                self.count("paused")
                return
            self._failed(event, str(refused), final=True)
        except IssueMappingError as unreadable:
            self._failed(event, str(unreadable), final=True)
        except TicketBusy as busy:
            # Not this event's failure, and never final: the holder finishes, or its lease runs out.
            log.info("event %s for %s waits: %s", event.identifier, event.issue, busy, extra={"event_identifier": event.identifier})
            now = self.clock()
            self.store.retry_later(event, now, now + self.backoff(1), str(busy), attempt=False)
            self.count("retry")
        except JiraError as error:
            if self.health is not None and not jira_away(error):
                self.health.heard(error)
            elif self.health is not None:
                # All of Jira, or this ticket? A quick check of Jira itself says; an outage is a
                # pause, not an attempt.
                self.health.probe()
                if self.health.paused:
                    now = self.clock()
                    # Looked at again soon: the health check (every 10 s) lets the workers go on.
                    self.store.retry_later(event, now, now + timedelta(seconds=10), str(error), attempt=False)
                    self.count("paused")
                    return
            self._failed(event, str(error), final=event.attempts + 1 >= self.max_attempts)
        else:
            if self.health is not None:
                self.health.answered()
            if look_again is not None:
                self.store.defer(event, self.clock(), self.clock() + look_again)
                self.count("deferred")
            else:
                self.store.complete(event, self.clock())
                self.count("done")
                # One line per claim, not per delivery: a ticket's burst is worked at once.
                log.info("event %s for %s done (%d event(s) of the ticket)", event.identifier, event.issue, len(event.batch or (event.id,)),
                         extra={"event_identifier": event.identifier, "issue": event.issue})

    def _evaluate_ticket(self, event: StoredEvent) -> timedelta | None:
        """Act on the ticket; the delay after which it should be looked at again, if any."""
        key = event.issue
        if is_issue_id(key):
            # A Data Center comment event names the issue by id only: its key (held like any
            # other) and its project come from Jira; another project's comment is nothing to do.
            key = str(self.client.get_issue(key, ["project"])["key"])
            if not key.startswith(self.settings.project.key.upper() + "-"):
                log.info("event %s is about %s, outside %s; nothing to do", event.identifier, key, self.settings.project.key,
                         extra={"event_identifier": event.identifier})
                return None
        # Held while reading, deciding and writing: no sweep or other worker acts on it meanwhile.
        with self.guard.hold(key) as held:
            issue_json = read_issue(self.client, self.settings, key)
            ticket = ticket_of(self.client, self.settings, issue_json)
            if needs_channel(ticket, self.settings) and came_by_email(self.client, self.settings, ticket.key):
                ticket = replace(ticket, channel="email")
            now = self.client.server_time()
            decided = evaluate(ticket, now, self.settings)
            actions = due_now(decided)
            if self.schedule is not None and not self.dry_run:
                # Due now until done: a failure below brings the ticket back at the next sweep.
                self.schedule.set(ticket.key, now if actions else next_due(ticket, now, self.settings, decided), now)
            if self.dry_run:
                self.on_dry_run(actions)
                actions = []
            uncertain = False
            for outcome in self.executor.apply(ticket, firing_log(issue_json, self.settings), actions, now) if actions else []:
                if outcome.applied:
                    held.wrote(self.clock())
                elif outcome.uncertain:
                    uncertain = True  # not this event's failure: looked at again once it has settled
                else:
                    raise JiraError("apply", f"{outcome.issue} {outcome.rule}", None, outcome.error or "failed")
            check = next_check(ticket, now, self.settings)
        self._deliveries_concerned(ticket, now)
        # Jira's clock and ours may differ: hand on the delay, not the instant.
        delay = check - now if check is not None else None
        if uncertain:
            settle = self.settings.limits.uncertain_settle.nominal
            delay = settle if delay is None else min(delay, settle)
        return delay

    def _deliveries_concerned(self, ticket, now: datetime) -> None:
        """A Delivery ticket itself, or the Planned deliveries a ticket's change may concern."""
        if not delivery_rules_enabled(self.settings):
            return
        keys = [ticket.key] if is_delivery(ticket, self.settings) else \
            [found["key"] for found in deliveries_to_refresh(self.client, self.settings, ticket)]
        for key in keys:
            _, _, outcomes = apply_delivery(self.client, self.settings, self.executor, key, now, self.guard, dry_run=self.dry_run,
                                            on_firing=lambda actions, outcome: self.on_dry_run(actions) if outcome is None else None)
            failed = [o for o in outcomes if not o.applied and not o.uncertain]
            if failed:
                raise JiraError("apply", f"{failed[0].issue} {failed[0].rule}", None, failed[0].error or "failed")

    def _failed(self, event: StoredEvent, error: str, final: bool) -> None:
        now = self.clock()
        if final:
            log.error("event %s for %s failed for good: %s", event.identifier, event.issue, error, extra={"event_identifier": event.identifier})
            self.store.fail(event, now, error)
            self.count("failed")
        else:
            log.warning("event %s for %s failed, will retry: %s", event.identifier, event.issue, error, extra={"event_identifier": event.identifier})
            self.store.retry_later(event, now, now + self.backoff(event.attempts + 1), error)
            self.count("retry")

    def run_until(self, stop: threading.Event, idle_wait: float = 0.2) -> None:
        """Work until `stop` is set; finishes the event in hand before returning (drain)."""
        while not stop.is_set():
            # Nothing is taken before Jira has been checked once, nor while it cannot work for us:
            # a wrong JIRA_URL answering 404 must not make every event "done, ticket deleted".
            if self.health is not None and (self.health.paused or not self.health.checked):
                stop.wait(idle_wait)
                continue
            if self.intake_first is not None:
                self.intake_first.wait_until_quiet(self.yield_to_intake)
            try:
                busy = self.run_once()
            except StoreUnavailable as unavailable:
                log.error("store unavailable: %s", unavailable)
                busy = False
            if not busy:
                stop.wait(idle_wait)
