"""`jsm-autopilot serve`: the receiver under waitress (a production WSGI server) and the workers.

SIGTERM or SIGINT: stop accepting, let requests in flight finish (waitress waits for its task
threads), let each worker finish the event in hand, then exit 0. SIGKILL at any moment loses no
acknowledged event: it was committed before the 202, and an event in hand is taken again once its
lease runs out; applying it again does nothing twice (the firing log in Jira says what is done).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Mapping

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.deliveries import DeliveryRegistry, DeliveryRequest, DeliveryResult, create_or_update
from jsm_autopilot.connector.executor import Executor, firing_source
from jsm_autopilot.connector.oncall import OnCallSender, environment_gaps
from jsm_autopilot.connector.sweep import SweepReport, sweep_once
from jsm_autopilot.errors import JiraError, ServiceConfigurationError, SettingsError, StoreUnavailable
from jsm_autopilot.rules.catalogue import implemented_ids
from jsm_autopilot.rules.overrides import with_overrides
from jsm_autopilot.service.api import add_delivery_api
from jsm_autopilot.service.config_watch import ConfigWatch
from jsm_autopilot.service.guard import TicketGuard
from jsm_autopilot.service.health import Health
from jsm_autopilot.service.http_server import create_server
from jsm_autopilot.service.identity import node_name, process_name
from jsm_autopilot.service.metrics import Metrics, counting
from jsm_autopilot.service.notify import Notifier, channels_from
from jsm_autopilot.service.rule_switches import RuleSwitches
from jsm_autopilot.service.shadow import ShadowLog
from jsm_autopilot.store.audit import AuditTrail
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.late_notes import LateNotes
from jsm_autopilot.store.schedule import TicketSchedule
from jsm_autopilot.store.uncertain import StoredUncertain
from jsm_autopilot.webhooks.intake_first import IntakeFirst
from jsm_autopilot.webhooks.receiver import create_receiver, utc_now
from jsm_autopilot.webhooks.worker import Worker

log = logging.getLogger("jsm_autopilot.serve")
SECRET_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_WEBHOOK_SECRET"
# Longer than a sweep of a large project takes; if one ever runs over, the ticket guard still
# keeps two sweeps from acting twice.
# Short, and renewed while the sweep runs: a replica killed mid-sweep holds up the others for two
# minutes at most (on its own host, not at all: a restart releases what it held).
SWEEP_LEASE = timedelta(minutes=2)
SWEEP_RENEW_EVERY = 30.0  # seconds
# Seconds between quick checks of Jira (serverInfo, myself): Jira going away shows on /readyz, and
# pauses the workers, within this long even when no event comes.
JIRA_PROBE_EVERY = 10.0
RECENT_SWEEPS = 10


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep of this replica did, as the console's overview lists it."""

    finished: datetime
    full: bool
    tickets_seen: int
    firings_applied: int
    failures: int
    waiting_for_hours: tuple[tuple[str, int], ...]  # by rule: customer-facing firings that wait for working hours
    api_calls: int

    @classmethod
    def of(cls, report: SweepReport, finished: datetime) -> "SweepSummary":
        return cls(finished, report.full, report.tickets_seen, report.firings_applied, len(report.failures),
                   tuple(sorted(report.deferred.items())), report.api_calls)


def webhook_secret(settings: Settings, environ=os.environ) -> bytes | None:
    secret = environ.get(SECRET_ENVIRONMENT_VARIABLE) or None
    if secret is None and not settings.webhooks.allow_unsigned:
        raise ServiceConfigurationError(
            f"set {SECRET_ENVIRONMENT_VARIABLE} (the secret of the Jira webhook), or allow unsigned deliveries "
            "with webhooks.allow_unsigned: true in app.yaml (Data Center sites that cannot sign only)", SECRET_ENVIRONMENT_VARIABLE
        )
    return secret.encode() if secret else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Service:
    settings: Settings
    store: EventStore
    client: JiraClient
    secret: bytes | None
    api_token: bytes | None = None
    # Shadow mode: receive, sweep and decide, log and keep what would be done, write nothing to Jira.
    dry_run: bool = False
    # Reads app.yaml again (SIGHUP): None when the settings did not come from a file.
    reload_from: "Callable[[], Settings] | None" = None
    # `serve --watch-config`: reload when this file changes, as on SIGHUP (service/config_watch.py).
    watch_config: "Path | None" = None
    # Where the console's secrets come from (os.environ when None; tests give their own).
    console_environ: "Mapping[str, str] | None" = None

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        # app.yaml as loaded; self.settings is it with the console's rule overrides applied.
        self.base_settings = self.settings
        self.switches = RuleSwitches(self.store)
        self.recent_sweeps: deque[SweepSummary] = deque(maxlen=RECENT_SWEEPS)  # this replica's, for the console
        # A change of the rules in force makes the next sweep a full pass: the schedule of due
        # tickets was made with the rules as they were. Counted, so a change during a pass is not lost.
        self.rules_version = self.full_pass_version = 0
        self.settings_lock = threading.RLock()  # reloads and override refreshes install settings one at a time
        try:
            self.settings = self.switches.apply(self.base_settings)
        except StoreUnavailable as unavailable:
            log.error("rule overrides not read, app.yaml's rules apply until they are: %s", unavailable)
        self.client.stop_retrying_when(self.stop)
        self.holder = process_name()
        self.metrics = Metrics(self.client)
        # One executor and one guard for scheduled and webhook work alike.
        self.executor = Executor(self.client, self.settings, alerts=OnCallSender.from_environment(jsm_ops_url=self.settings.oncall.jsm_ops_url),
                                 on_applied=lambda rule, n: self.metrics.actions_applied.labels(rule).inc(n))
        self.executor.late_notes = LateNotes(self.store)
        self.audit = AuditTrail(self.store)
        self.health = Health(self.store, self.client, utc_now)
        self.executor.on_outcome = self.heard_outcome
        self.notifier = Notifier(self.store, self.settings.notify, channels_from(self.settings.notify), self.client.base_url,
                                 self.settings.project.zone, self.client.deployment)
        self.executor.on_alert = lambda error: self.notifier.oncall(error, utc_now())
        self.metrics.ready.set_function(lambda: 0.0 if self.health.causes() else 1.0)
        self.executor.uncertain = StoredUncertain(self.store)
        self.metrics.uncertain_writes.set_function(self._uncertain_count)
        self.schedule = TicketSchedule(self.store)
        self.guard = TicketGuard(self.store, self.holder)
        # A call in flight stops retrying once the health check finds Jira away (it pauses then).
        # The check's own calls are quick and carry their own budget.
        self.client.give_up_when(lambda: self.health.unreachable is not None)
        self.intake_first = IntakeFirst()
        self._count_processed = counting(self.metrics.events_processed)
        self.app = create_receiver(self.store, self.settings.project.key, self.secret, self.settings.webhooks.max_body_bytes,
                                   settle=timedelta(seconds=self.settings.webhooks.settle_seconds),
                                   count=counting(self.metrics.events_received),
                                   intake_first=self.intake_first)
        self.app.add_url_rule("/metrics", "metrics", self.exposition)
        # Each API request holds the delivery under its own name: requests run on several threads.
        registry = self.delivery_registry = DeliveryRegistry(self.store, TicketGuard(self.store, f"{self.holder}-api",
                                                                                      wait=timedelta(seconds=60)))
        add_delivery_api(self.app, lambda: self.settings, self.client, self.executor, registry, self.guard, self.api_token,
                         count=counting(self.metrics.api_requests), always_dry_run=self.dry_run)
        self.shadow = ShadowLog(self.store, utc_now)
        self.executor.on_shadow = lambda actions: self.shadow.record(actions, (firing_source.get() or "sweep").split(":")[0])
        prefix = process_name()
        self.workers = [
            Worker(self.store, self.client, self.settings, self.executor, name=f"{prefix}-{n}",
                   max_attempts=self.settings.webhooks.max_attempts, guard=self.guard,
                   count=self.count_processed,
                   dry_run=self.dry_run, on_dry_run=lambda actions: self.shadow.record(actions, "webhook"), health=self.health,
                   schedule=self.schedule, intake_first=self.intake_first if self.settings.webhooks.yield_to_intake_seconds else None,
                   yield_to_intake=self.settings.webhooks.yield_to_intake_seconds)
            for n in range(self.settings.webhooks.workers)
        ]
        self.threads = [threading.Thread(target=w.run_until, args=(self.stop,), name=w.name, daemon=True) for w in self.workers]
        self.threads.append(threading.Thread(target=self.watch_jira, name="jira-health", daemon=True))
        if self.watch_config is not None:
            watch = ConfigWatch(self.watch_config, self.reload_settings)
            self.threads.append(threading.Thread(target=watch.run_until, args=(self.stop,), name="config-watch", daemon=True))
        self.app.add_url_rule("/readyz", "readyz", self.readiness)
        if self.settings.console.enabled:
            from jsm_autopilot.console.app import ConsoleContext, add_console

            add_console(self.app, ConsoleContext(settings=lambda: self.settings, base_settings=lambda: self.base_settings,
                                                 store=self.store, client=self.client, readiness=self.health.causes,
                                                 rules_changed=self.refresh_rule_switches, deliver=self.deliver,
                                                 recent_sweeps=lambda: list(self.recent_sweeps),
                                                 overrides_in_force=lambda: dict(self.switches.active),
                                                 lost_overrides=lambda: list(self.switches.lost)),
                        os.environ if self.console_environ is None else self.console_environ)

    def exposition(self) -> Response:
        """Prometheus metrics (events, firings, sweeps, Jira calls, readiness)."""
        return Response(self.metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)

    def deliver(self, request: DeliveryRequest, dry_run: bool) -> DeliveryResult:
        """A release manager's Delivery ticket from the console, as `POST /api/deliveries` makes it."""
        firing_source.set("console")
        return create_or_update(self.client, self.settings, self.executor, self.delivery_registry, request, guard=self.guard,
                                dry_run=dry_run or self.dry_run)

    def heard_outcome(self, outcome, group, now: datetime) -> None:
        """Every firing's outcome: into the audit trail; a failure also to the metrics and to admins."""
        self.audit.record(now, outcome.issue, outcome.rule, outcome.outcome, group[0].reason, outcome.error or outcome.partial,
                          firing_source.get())
        if outcome.outcome == "failed":
            self.metrics.firings_failed.labels(outcome.rule).inc()
            self.notifier.firing_failed(outcome.issue, outcome.rule, outcome.error or "failed", now)

    def _uncertain_count(self) -> float:
        try:
            return float(self.executor.uncertain.count_open())
        except StoreUnavailable:
            return float("nan")  # unknown now; /readyz says why

    def count_processed(self, outcome: str) -> None:
        self._count_processed(outcome)
        if outcome == "failed":  # the worker kept it as a dead letter
            self.metrics.dead_letters.inc()

    def reload_settings(self) -> bool:
        """Read app.yaml again; the rules and their numbers apply from the next event and sweep.
        A file that does not validate changes nothing: the previous settings stay in force."""
        if self.reload_from is None:
            return False
        try:
            fresh = self.reload_from()
        except SettingsError as error:
            log.error("app.yaml not reloaded, the previous settings stay in force: %s", error, extra={"reload": "refused"})
            return False
        if fresh.project.key != self.settings.project.key:
            log.error("app.yaml not reloaded: project.key changed (%s -> %s); that takes a restart",
                      self.settings.project.key, fresh.project.key, extra={"reload": "refused"})
            return False
        with self.settings_lock:
            self.base_settings = fresh
            try:
                fresh = self.switches.apply(fresh)
            except StoreUnavailable as unavailable:
                fresh = with_overrides(fresh, self.switches.active.values(), implemented_ids())  # as last read
                log.error("rule overrides not read again, those last read stay in force: %s", unavailable)
            self._install(fresh)
        if self.health.checked and not self.health.paused:
            self.health.check_names(fresh)
        enabled = fresh.rules.enabled or []
        log.warning("app.yaml reloaded: %d rule(s) on (%s)", len(enabled), ", ".join(enabled),
                    extra={"reload": "applied"})
        return True

    def _install(self, fresh: Settings) -> None:
        if fresh.rules != self.settings.rules:
            self.rules_version += 1
        self.settings = self.executor.settings = fresh
        self.notifier.notify, self.notifier.channels = fresh.notify, channels_from(fresh.notify)
        for worker in self.workers:
            worker.settings = fresh

    def refresh_rule_switches(self) -> None:
        """Apply the console's overrides as the store has them now; a store that cannot say
        leaves the rules as they are."""
        # One at a time, with reloads too: a stale read installed after a newer one would undo a switch.
        with self.settings_lock:
            try:
                fresh = self.switches.apply(self.base_settings)
            except StoreUnavailable as unavailable:
                log.warning("rule overrides not read again, those last read stay in force: %s", unavailable)
                return
            if fresh.rules != self.settings.rules:
                log.warning("rules in force changed: on %s; shadow only %s; overrides: %s",
                            ", ".join(fresh.rules.enabled or []) or "none", ", ".join(fresh.rules.shadow) or "none",
                            "; ".join(self.switches.described()) or "none", extra={"rules": "overrides applied"})
                self._install(fresh)

    def readiness(self):
        """503 with the causes while the service cannot do its work; for load balancers and Kubernetes.
        Either way it lists the console's rule overrides in force, and what is wrong with them."""
        causes = self.health.causes()
        # Only when there are any: a site without the console answers as before.
        switches = {key: value for key, value in (("overrides", self.switches.described()), ("warnings", self.switches.problems)) if value}
        if causes:
            return jsonify({"status": "not ready", "causes": causes, **switches}), 503
        return jsonify({"status": "ready", **switches}), 200

    def watch_jira(self, every: float = JIRA_PROBE_EVERY) -> None:
        """Ask Jira at once, then now and then: readiness at start, and the end of a pause."""
        names: threading.Thread | None = None
        names_checked = threading.Event()

        def check_names() -> None:
            if self.health.check_names(self.settings):
                names_checked.set()

        while not self.stop.is_set():
            self.refresh_rule_switches()
            self.health.probe()
            try:
                self.notifier.check(utc_now(), self.health)
            except Exception:  # noqa: BLE001  (telling admins must not stop the health check)
                log.exception("could not check for incidents to tell admins of")
            # Once Jira answers, app.yaml's names are checked against the site (again after each
            # reload), on a thread of their own: the quick check of Jira goes on meanwhile.
            if not names_checked.is_set() and not self.health.paused and (names is None or not names.is_alive()):
                names = threading.Thread(target=check_names, name="check-names", daemon=True)
                names.start()
            self.stop.wait(every)

    def release_events_of_dead_processes(self) -> int:
        """Called at start, before anything is taken. Workers are named node-pid-n, leases (the
        sweep, ticket holds) node-pid or node-pid/thread, the node being host and PID namespace
        (service/identity.py): what a process of this node that no longer runs (killed) held is
        given back at once. So is what our own pid held: a new process holds nothing yet. Other
        nodes' events and leases, sibling containers' among them, wait for their expiry."""
        host = node_name()

        def gone(holder: str) -> bool:
            if not holder.startswith(f"{host}-"):
                return False
            pid_text = holder[len(host) + 1:].replace("/", "-").split("-")[0]
            return pid_text.isdigit() and (int(pid_text) == os.getpid() or not _alive(int(pid_text)))

        released = sum(self.store.release(holder, datetime.now(timezone.utc)) for holder in self.store.holders() if gone(holder))
        processes = {holder.split("/")[0] for holder in self.store.lease_holders() if gone(holder)}
        dropped = sum(self.store.release_leases(process) for process in processes)
        if released or dropped:
            log.info("took back %d event(s) and %d lease(s) from stopped processes", released, dropped)
        return released + dropped

    @property
    def sweep_lease(self) -> str:
        return f"sweep:{self.settings.project.key}"

    def full_pass(self, on_firing=None) -> SweepReport | None:
        """The nightly sweep that reads every candidate and so repairs the schedule."""
        return self.scheduled_sweep(on_firing, full=True)

    def scheduled_sweep(self, on_firing=None, full: bool = False) -> SweepReport | None:
        """One sweep, if this replica holds the sweep lease; None when another replica sweeps."""
        if self.stop.is_set():
            return None
        self.refresh_rule_switches()  # a rule switched in the console applies from this sweep on
        if not self.health.checked:
            self.health.probe()  # a sweep needs Jira: check it first, quickly, if nobody has yet
        if self.health.paused:
            log.info("sweep skipped: %s", "; ".join(self.health.causes()))
            return None
        if not self.store.take_lease(self.sweep_lease, self.holder, utc_now(), SWEEP_LEASE):
            log.info("another replica is sweeping; skipped")
            return None
        log.info("sweep started by %s", self.holder, extra={"sweep": "started", "holder": self.holder})
        swept = threading.Event()

        def renew() -> None:
            while not swept.wait(SWEEP_RENEW_EVERY):
                try:
                    self.store.take_lease(self.sweep_lease, self.holder, utc_now(), SWEEP_LEASE)
                except StoreUnavailable as unavailable:
                    log.warning("could not renew the sweep lease: %s", unavailable)

        threading.Thread(target=renew, name="sweep-lease", daemon=True).start()
        try:
            with self.metrics.sweep_seconds.time():
                def heard(actions, outcome) -> None:
                    if outcome is None and self.dry_run:
                        self.shadow.record(actions, "sweep")
                    if on_firing is not None:
                        on_firing(actions, outcome)

                version = self.rules_version
                full = full or version != self.full_pass_version
                try:
                    report = sweep_once(self.client, self.settings, executor=self.executor, guard=self.guard, stop=self.stop,
                                        on_firing=heard, dry_run=self.dry_run, schedule=self.schedule, full=full)
                except JiraError as error:
                    # One line, no traceback: the cause is Jira's, and /readyz says it too. Jira
                    # away or refusing us has its own line already: the sweep only notes it.
                    self.health.heard(error)
                    (log.info if self.health.paused else log.error)("sweep stopped: %s", error)
                    return None
                except StoreUnavailable as unavailable:
                    log.error("sweep stopped: %s", unavailable)  # /readyz says "store not writable"
                    return None
            if report.search_error is not None:
                self.health.heard(report.search_error)
            else:
                self.health.answered()
                if full:
                    self.full_pass_version = max(self.full_pass_version, version)
            self.metrics.sweep_tickets.set(report.tickets_seen)
            self.recent_sweeps.appendleft(SweepSummary.of(report, utc_now()))
            log.info("sweep: %d candidate(s), %d firing(s) applied, %d failure(s), %d API call(s)",
                     report.tickets_seen, report.firings_applied, len(report.failures), report.api_calls)
            return report
        finally:
            swept.set()
            log.info("sweep finished by %s", self.holder, extra={"sweep": "finished", "holder": self.holder})
            self.store.drop_lease(self.sweep_lease, self.holder)

    def scheduler(self) -> BackgroundScheduler:
        """Never two sweeps at once in this process (max_instances=1), missed runs coalesced."""
        schedule = self.settings.schedule
        scheduler = BackgroundScheduler(timezone=self.settings.project.zone)
        options = dict(max_instances=1, coalesce=True, misfire_grace_time=300)
        if schedule.sweep_every is not None:
            scheduler.add_job(self.scheduled_sweep, IntervalTrigger(seconds=schedule.sweep_every.nominal.total_seconds()),
                              id="sweep", next_run_time=datetime.now(timezone.utc) + timedelta(seconds=5), **options)
        if schedule.full_pass_at is not None:
            hour, minute = (int(part) for part in schedule.full_pass_at.split(":"))
            # The trigger needs the zone itself: it does not take the scheduler's.
            trigger = CronTrigger(hour=hour, minute=minute, timezone=self.settings.project.zone)
            scheduler.add_job(self.full_pass, trigger, id="full-pass", **options)
        return scheduler

    def run(self, host: str, port: int, ready=None) -> None:
        # Bound first: a busy port fails before anything is taken or started.
        hooks = self.settings.webhooks
        server = create_server(self.app, host=host, port=port, threads=8, ident="jsm-autopilot",
                               connection_limit=hooks.connection_limit, channel_timeout=hooks.idle_timeout_seconds,
                               cleanup_interval=max(1, hooks.idle_timeout_seconds // 2))
        # Worker threads hold the interpreter lock for up to the switch interval (5 ms by default)
        # before a request thread gets it; 1 ms keeps acknowledgements quick while workers run.
        sys.setswitchinterval(0.001)
        self.release_events_of_dead_processes()
        scheduler = self.scheduler()
        scheduler.start()
        for thread in self.threads:
            thread.start()

        def shut_down(signum, _frame):
            log.info("signal %s: draining", signal.Signals(signum).name)
            raise SystemExit(0)  # waitress's loop catches it and waits for requests in flight

        signal.signal(signal.SIGTERM, shut_down)
        signal.signal(signal.SIGINT, shut_down)
        # Off the signal handler: reading and validating a file is no work for one.
        signal.signal(signal.SIGHUP, lambda signum, frame: threading.Thread(target=self.reload_settings, name="reload").start())
        log.info("serving on http://%s:%s/webhooks/jira with %d worker(s)", host, server.effective_port, len(self.threads))
        for gap in environment_gaps(self.settings):
            log.warning("%s", gap, extra={"settings": "environment gap"})
        if self.dry_run:
            log.warning("dry run (shadow mode): nothing is written to Jira; `jsm-autopilot shadow` lists what would have been done",
                        extra={"dry_run": True})
        if ready is not None:
            ready(server.effective_port)
        try:
            server.run()
        finally:
            self.stop.set()
            scheduler.shutdown(wait=True)
            for thread in self.threads:
                thread.join(timeout=60)
            server.close()
            self.store.dispose()
            log.info("stopped")
