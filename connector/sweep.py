"""One sweep: find the candidate tickets, map them, evaluate the rules, apply what is due.

The JQL asks only for tickets in a status where an enabled rule can fire. Pages are mapped,
evaluated and applied as they arrive, so memory stays flat however large the project. One
ticket's failure is logged and counted; the sweep goes on with the others.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Protocol

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.channel import email_tickets, needs_channel
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.deliveries import apply_delivery, deliveries_jql_to_sweep
from jsm_autopilot.connector.executor import Executor, FiringOutcome
from jsm_autopilot.connector.holds import Guard, Hold, NoGuard
from jsm_autopilot.connector.jql import jql_string
from jsm_autopilot.connector.mapping import fields_to_read, firing_log
from jsm_autopilot.connector.pool import TicketPool
from jsm_autopilot.connector.reading import read_ticket
from jsm_autopilot.errors import IssueMappingError, JiraError, TicketBusy
from jsm_autopilot.rules.actions import Action, Deferred, PublicComment, Transition, due_now, firings_of
from jsm_autopilot.rules.catalogue import candidate_statuses, delivery_rules_enabled, evaluate, next_due

log = logging.getLogger("jsm_autopilot.sweep")


# JQL dates have minutes, the two clocks may differ a little, and a write may be indexed late:
# a routine sweep looks this much further back than the last one began.
CHANGE_MARGIN = timedelta(minutes=5)


class Schedule(Protocol):
    """Each ticket's next due instant and the sweeps' marks (store/schedule.py)."""

    def set(self, issue: str, next_due: datetime | None, now: datetime) -> None: ...

    def due(self, now: datetime) -> list[str]: ...

    def mark(self, name: str, at: datetime) -> None: ...

    def mark_of(self, name: str) -> datetime | None: ...


def candidate_jql(settings: Settings) -> str | None:
    statuses = candidate_statuses(settings)
    if not statuses:
        return None
    listed = ", ".join(jql_string(s) for s in statuses)
    return f"project = {jql_string(settings.project.key)} AND status IN ({listed}) ORDER BY key ASC"


@dataclass
class SweepReport:
    """Counts, not contents: a sweep over 10,000 tickets holds no more than one over 1,000.
    Whoever wants each action (the CLI's live list) gets it through `on_firing`."""

    now: datetime
    dry_run: bool
    tickets_seen: int = 0
    firings_planned: int = 0
    firings_applied: int = 0
    actions_applied: int = 0
    by_rule: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    api_calls: int = 0
    # Customer-facing firings applied, and those left for the next sweep by limits.max_firings_per_sweep.
    customer_facing: int = 0
    firings_waiting: int = 0
    # Customer-facing firings that wait for their region's working hours (hours.window), by rule.
    deferred: Counter = field(default_factory=Counter)
    # Firings applied whose note for agents failed (kept for the next sweep), and notes so written.
    partial: list[str] = field(default_factory=list)
    late_notes_written: int = 0
    # Firings sent without an answer, not known to have landed: never resent before they settle.
    uncertain: list[str] = field(default_factory=list)
    # Why the search itself failed, if it did (the service's health hears it).
    search_error: JiraError | None = None
    full: bool = True  # every candidate read (False: a routine sweep read what was due or changed)
    # Several tickets are worked on at once (connector/pool.py): every count goes through this.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _facing_reserved: int = 0

    def planned(self, rule: str) -> None:
        """One firing decided on; on a dry run that is all that happens to it."""
        with self._lock:
            self.firings_planned += 1
            if self.dry_run:
                self.by_rule[rule] += 1

    def finished(self, outcome: FiringOutcome) -> None:
        with self._lock:
            if outcome.partial:
                self.partial.append(f"{outcome.issue} {outcome.rule}: {outcome.partial}")
            if outcome.applied:
                self.firings_applied += 1
                self.actions_applied += outcome.actions
                self.by_rule[outcome.rule] += 1
            elif outcome.uncertain:
                self.uncertain.append(f"{outcome.issue} {outcome.rule}: {outcome.error}")
            else:
                self.failures.append(f"{outcome.issue} {outcome.rule}: {outcome.error}")

    def failed(self, what: str) -> None:
        with self._lock:
            self.failures.append(what)

    def seen(self, deferred: list[str]) -> None:
        with self._lock:
            self.deferred.update(deferred)

    def reserve_customer_facing(self, firings: int, limit: int) -> bool:
        """Room in this sweep for `firings` more customer-facing firings; else they wait."""
        with self._lock:
            if firings and self._facing_reserved + firings > limit:
                self.firings_waiting += firings
                return False
            self._facing_reserved += firings
            return True

    def applied_customer_facing(self, firings: int) -> None:
        with self._lock:
            self.customer_facing += firings

    def as_json(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "tickets_seen": self.tickets_seen,
            "firings_planned": self.firings_planned,
            "firings_applied": self.firings_applied,
            "actions_applied": self.actions_applied,
            "by_rule": dict(self.by_rule),
            "api_calls": self.api_calls,
            "firings_waiting": self.firings_waiting,
            "deferred": dict(self.deferred),
            "partial": self.partial,
            "late_notes_written": self.late_notes_written,
            "failures": self.failures,
            "uncertain": self.uncertain,
        }


# Called once per firing: its actions, and whether it was applied (None on a dry run).
FiringListener = Callable[[list[Action], FiringOutcome | None], None]


def sweep_once(client: JiraClient, settings: Settings, now: datetime | None = None, dry_run: bool = False,
               executor: Executor | None = None, on_firing: FiringListener | None = None,
               guard: Guard | None = None, local_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
               stop: threading.Event | None = None, schedule: "Schedule | None" = None, full: bool = True,
               issue: str | None = None) -> SweepReport:
    """One pass over the candidates; `now` defaults to Jira's own serverTime. With a `guard`, each
    ticket is held while acted on, and re-read if another actor wrote to it since the search.
    With a `schedule` and `full=False` (a routine sweep), only the tickets that are due or changed
    since the last sweep are read; every ticket evaluated gets its next due instant recorded.
    With `issue`, only that ticket (whatever its status) and no Delivery tickets. Once `stop` is
    set, no other ticket is started: those in hand finish, the rest wait for the next sweep."""
    calls_before = sum(client.calls.values())
    started = local_clock()
    now = now or client.server_time()
    report = SweepReport(now=now, dry_run=dry_run)
    jql = candidate_jql(settings)
    executor = executor or Executor(client, settings)
    listener = on_firing or (lambda actions, outcome: None)
    if dry_run:
        schedule = None  # a dry run keeps no schedule: it must not make a real sweep skip anything
    if schedule is None or schedule.mark_of(f"{settings.project.key}:routine") is None:
        full = True  # no schedule, or nothing scheduled yet: read everything
    report.full = full
    context = _Context(client, settings, executor, now, report, listener, guard or NoGuard(), started, local_clock, schedule)
    try:
        if not dry_run:
            report.late_notes_written = executor.write_late_notes()
            executor.settle_uncertain()
        if issue is not None:
            jql = f"project = {jql_string(settings.project.key)} AND key = {jql_string(issue)} ORDER BY key ASC"
            full = True
        if jql is not None:
            with TicketPool(client, settings.limits.concurrency) as pool:
                for issue_json in _candidates(context, jql, full):
                    if stopped(stop):
                        break  # the service is stopping; the next sweep goes on from Jira's state
                    report.tickets_seen += 1
                    # A ticket still waiting for a thread when the stop comes is left for the next sweep.
                    def handle(issue_json: dict = issue_json) -> None:
                        if not stopped(stop):
                            _handle_issue(context, issue_json)

                    pool.submit(handle)
            for error in pool.errors:
                report.failed(f"{type(error).__name__}: {error}")
            if schedule is not None and not stopped(stop):
                schedule.mark(f"{settings.project.key}:routine", now)
                if full:
                    schedule.mark(f"{settings.project.key}:full", now)
        if delivery_rules_enabled(settings) and issue is None and not stopped(stop):
            for issue_json in client.search(deliveries_jql_to_sweep(settings, now), ["summary"]):
                if stopped(stop):
                    break
                report.tickets_seen += 1
                _handle_delivery(context, issue_json["key"])
    except JiraError as error:
        # The search itself failed after its retries: what was done stays done; say so.
        log.error("search failed: %s", error)
        report.failures.append(f"search: {error}")
        report.search_error = error
    report.api_calls = sum(client.calls.values()) - calls_before
    if report.firings_waiting:
        log.warning("%d customer-facing firing(s) wait for the next sweep: limits.max_firings_per_sweep is %d",
                    report.firings_waiting, settings.limits.max_firings_per_sweep, extra={"waiting": report.firings_waiting})
    return report


def stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _customer_facing(actions: list[Action]) -> int:
    """Firings a customer would notice: a public comment or a status change."""
    return sum(any(isinstance(a, (PublicComment, Transition)) for a in group) for group in firings_of(actions).values())


@dataclass
class _Context:
    client: JiraClient
    settings: Settings
    executor: Executor
    now: datetime
    report: SweepReport
    listener: FiringListener
    guard: Guard
    started: datetime
    local_clock: Callable[[], datetime]
    schedule: "Schedule | None" = None
    _by_email: set[str] | None = None
    _email_lock: threading.Lock = field(default_factory=threading.Lock)

    def by_email(self) -> set[str]:
        """The e-mail tickets still to retype: one search, made only once a ticket may need it."""
        with self._email_lock:
            if self._by_email is None:
                self._by_email = email_tickets(self.client, self.settings)
            return self._by_email


def _read(context: _Context, key: str, issue_json: dict | None = None):
    """The ticket, from the search result when given and complete enough, else from the issue."""
    issue_json, ticket = read_ticket(context.client, context.settings, key, issue_json)
    if needs_channel(ticket, context.settings) and key in context.by_email():
        ticket = replace(ticket, channel="email")
    return issue_json, ticket


def _handle_issue(context: _Context, issue_json: dict) -> None:
    report, settings = context.report, context.settings
    key = issue_json.get("key", "?")
    try:
        issue_json, ticket = _read(context, key, issue_json)
    except (IssueMappingError, JiraError) as error:
        log.error("%s unreadable: %s", key, error, extra={"issue": key})
        report.failed(str(error))
        _schedule(context, key, context.now)  # try again next sweep
        return
    decided = evaluate(ticket, context.now, settings)
    report.seen([a.rule for a in decided if isinstance(a, Deferred)])
    actions = due_now(decided)
    # Until it is done, a firing due now keeps the ticket due: a failure or the cap below
    # brings it back at the next sweep. After a write, `updated` brings it back anyway.
    _schedule(context, key, context.now if actions else next_due(ticket, context.now, settings, decided))
    if not actions:
        return
    if report.dry_run:
        _planned(report, actions, context.listener)
        return
    # A first start on a site with history must not flood its customers: the rest wait.
    if not report.reserve_customer_facing(_customer_facing(actions), settings.limits.max_firings_per_sweep):
        for rule, group in firings_of(actions).items():
            waiting = f"waits for the next sweep: limits.max_firings_per_sweep ({settings.limits.max_firings_per_sweep}) reached"
            context.executor.on_outcome(FiringOutcome(key, rule, len(group), False, waiting, skipped=True), group, context.now)
        return
    try:
        with context.guard.hold(key) as held:
            if held.changed_since(context.started):
                # Another actor wrote to it after our search: decide again on what Jira shows now.
                issue_json, ticket = _read(context, key)
                actions = due_now(evaluate(ticket, context.now, settings))
            _apply(context, ticket, issue_json, actions, held)
    except TicketBusy as busy:
        log.info("%s skipped: %s", key, busy, extra={"issue": key})
    except (IssueMappingError, JiraError) as error:
        log.error("%s unreadable: %s", key, error, extra={"issue": key})
        report.failed(str(error))


def _schedule(context: _Context, key: str, due: datetime | None) -> None:
    if context.schedule is not None and not context.report.dry_run:
        context.schedule.set(key, due, context.now)


def _candidates(context: _Context, jql: str, full: bool) -> Iterator[dict]:
    """A full pass: every ticket in a candidate status. A routine sweep: those changed since the
    last sweep began (less a margin for clocks and Jira's minute-precise JQL dates), then those
    the schedule says are due, read by key."""
    client, settings = context.client, context.settings
    fields, properties = fields_to_read(settings), [settings.automation.property_key]
    if full:
        yield from client.search(jql, fields, expand="changelog", properties=properties)
        return
    schedule = context.schedule
    assert schedule is not None  # sweep_once reads everything without a schedule
    mark = schedule.mark_of(f"{settings.project.key}:routine")
    assert mark is not None  # ... or without a first mark (marks are never removed)
    since = mark - CHANGE_MARGIN
    where, order = jql.split(" ORDER BY ")
    changed = f"{where} AND updated >= {jql_string(client.jql_time(since))} ORDER BY {order}"
    seen = set()
    for issue_json in client.search(changed, fields, expand="changelog", properties=properties):
        seen.add(issue_json.get("key"))
        yield issue_json
    due = [key for key in schedule.due(context.now) if key not in seen]
    for start in range(0, len(due), 100):
        keys = ", ".join(jql_string(key) for key in due[start:start + 100])
        yield from client.search(f"project = {jql_string(settings.project.key)} AND key IN ({keys}) ORDER BY key ASC",
                                 fields, expand="changelog", properties=properties)


def _handle_delivery(context: _Context, key: str) -> None:
    """A Delivery ticket with the tickets it concerns (connector/deliveries.py)."""
    report = context.report

    def counted(actions: list[Action], outcome: FiringOutcome | None) -> None:
        report.planned(actions[0].rule)
        if outcome is not None:
            report.finished(outcome)
        context.listener(actions, outcome)

    try:
        apply_delivery(context.client, context.settings, context.executor, key, context.now, context.guard,
                       dry_run=report.dry_run, on_firing=counted)
    except TicketBusy as busy:
        log.info("%s skipped: %s", key, busy, extra={"issue": key})
    except (IssueMappingError, JiraError) as error:
        log.error("%s unreadable: %s", key, error, extra={"issue": key})
        report.failures.append(f"{key}: {error}")


def _planned(report: SweepReport, actions: list[Action], listener: FiringListener) -> None:
    for rule, group in firings_of(actions).items():
        report.planned(rule)
        listener(group, None)


def _apply(context: _Context, ticket, issue_json: dict, actions: list[Action], held: Hold) -> None:
    report = context.report
    firings = firings_of(actions)
    for rule in firings:
        report.planned(rule)
    for outcome in context.executor.apply(ticket, firing_log(issue_json, context.settings), actions, context.now):
        context.listener(firings[outcome.rule], outcome)
        if outcome.applied:
            held.wrote(context.local_clock())
            report.applied_customer_facing(_customer_facing(firings[outcome.rule]))
        report.finished(outcome)
