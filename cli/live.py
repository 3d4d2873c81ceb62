"""Commands that talk to a Jira site (or the sandbox): `sweep`, and `sandbox` itself."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import click

from jsm_autopilot.cli.common import (
    BAD_INPUT,
    INTERRUPTED,
    SOME_FAILED,
    config_option,
    describe_action,
    fail,
    jira_client,
    make_console,
    open_store,
    parse_instant,
    site_settings,
    with_rule_overrides,
)
from jsm_autopilot.cli.main import main
from jsm_autopilot.cli.models import with_learned_triage
from jsm_autopilot.errors import Busy


@main.command()
@click.option("--once", is_flag=True, help="Run one pass and exit (scheduled sweeps run inside `serve`).")
@click.option("--dry-run", is_flag=True, help="Evaluate and print; apply nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--at", "at", default=None, help="Evaluate at this ISO-8601 time instead of the site's serverTime.")
@click.option("--issue", default=None, help="Only this ticket (a key like SD-12): act on it now, whatever its status.")
@config_option
def sweep(once: bool, dry_run: bool, as_json: bool, at: str | None, issue: str | None, config: Path | None) -> None:
    """Find the tickets where a rule is due, and apply it, exactly once.

    Reads JIRA_URL with JIRA_USER and JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center). When the
    store of `serve` exists ($JSM_AUTOPILOT_DB), each firing goes to its audit trail, as serve's
    own do (`jsm-autopilot audit`); none is made for a sweep. Ctrl-C finishes the tickets in hand
    (up to limits.concurrency), lists every firing applied, and exits 130; a second Ctrl-C stops at
    once. Exits 0 when every ticket was handled, 1 when some failed after retries, 2 on bad input.
    """
    from jsm_autopilot.connector.exclusive import exclusive_sweep
    from jsm_autopilot.connector.executor import Executor, firing_source
    from jsm_autopilot.connector.oncall import OnCallSender
    from jsm_autopilot.connector.sweep import sweep_once
    from jsm_autopilot.store.audit import AuditTrail

    if not once:
        fail("sweep: give --once; repeated sweeps run inside `jsm-autopilot serve`")
    if issue is not None:
        from jsm_autopilot.webhooks.delivery import ISSUE_KEY

        if not ISSUE_KEY.fullmatch(issue):
            fail(f"sweep: --issue {issue!r} is not a Jira issue key like SD-12")
    now = None
    if at is not None:
        try:
            now = parse_instant(at)
        except click.BadParameter as error:
            fail(f"--at: {error.message}")
    settings = site_settings(config)
    # The firings go where serve's go; a dry run writes nothing, so it only reads the store.
    store = open_store(write=not dry_run, missing_ok=True)
    client = jira_client(settings)
    settings = with_learned_triage(settings, store)  # after Jira answered: learning at first use takes seconds
    settings, _ = with_rule_overrides(settings, store)
    console = make_console()
    firings: list[dict] = []

    def on_firing(actions, outcome) -> None:
        state = "planned" if outcome is None else "applied" if outcome.applied else "UNSURE" if outcome.uncertain else "FAILED"
        if as_json:
            firings.append({"issue": actions[0].issue, "rule": actions[0].rule, "state": state,
                            "error": outcome.error if outcome else None, "actions": [a.as_json() for a in actions]})
            return
        does = ", ".join(describe_action(a) for a in actions)
        console.print(f"{actions[0].issue:<10} {actions[0].rule:<24} {state:<8} {does}: {actions[0].reason}")
        if outcome is not None and outcome.error:
            # The error names who failed: Jira's answer, the on-call channel's, or an uncertain write.
            console.print(f"{'':<10} {'':<24} {'':<8} {outcome.error}", markup=False)

    executor = Executor(client, settings, alerts=OnCallSender.from_environment(jsm_ops_url=settings.oncall.jsm_ops_url))
    if store is not None:
        from jsm_autopilot.store.late_notes import LateNotes
        from jsm_autopilot.store.uncertain import StoredUncertain

        # What serve keeps, kept here too: a write without an answer is not resent by the next run.
        executor.uncertain, executor.late_notes = StoredUncertain(store), LateNotes(store)
        from jsm_autopilot.service.shadow import ShadowLog

        shadow_log = ShadowLog(store, lambda: datetime.now(timezone.utc))
        executor.on_shadow = lambda actions: shadow_log.record(actions, "sweep")
        audit = AuditTrail(store)
        executor.on_outcome = lambda outcome, group, at: audit.record(
            at, outcome.issue, outcome.rule, outcome.outcome, group[0].reason, outcome.error or outcome.partial, firing_source.get())
    stop = threading.Event()
    try:
        with exclusive_sweep(settings.project.key), _interruptible(stop):
            report = sweep_once(client, settings, now=now, dry_run=dry_run, on_firing=on_firing, executor=executor, issue=issue,
                                stop=stop)
    finally:
        if store is not None:
            store.dispose()
    if as_json:
        click.echo(json.dumps({**report.as_json(), "interrupted": stop.is_set(), "firings": firings}, indent=2, ensure_ascii=False))
    else:
        local = report.now.astimezone(settings.project.zone)
        verb = "would fire" if dry_run else "applied"
        count = report.firings_planned if dry_run else report.firings_applied
        console.print(
            f"Sweep at {local:%Y-%m-%d %H:%M %Z}: {report.tickets_seen} candidate ticket(s), {count} firing(s) {verb}, "
            f"{report.api_calls} API call(s), {len(report.failures)} failure(s)."
        )
        for partial in report.partial:
            console.print(f"partly applied: {partial}")
        if report.deferred:
            console.print(f"{sum(report.deferred.values())} customer-facing firing(s) wait for working hours (hours.window): "
                          + ", ".join(f"{rule} {n}" for rule, n in sorted(report.deferred.items())) + ".")
        if report.firings_waiting:
            console.print(f"{report.firings_waiting} customer-facing firing(s) wait for the next sweep "
                          f"(limits.max_firings_per_sweep: {settings.limits.max_firings_per_sweep}).")
        for failure in report.failures:
            console.print(f"failed: {failure}", markup=False)
        for uncertain in report.uncertain:
            console.print(f"uncertain: {uncertain}", markup=False)
    if stop.is_set():
        click.echo(f"sweep: interrupted (Ctrl-C) after the tickets in hand: {report.firings_applied} firing(s) applied, listed "
                   f"above; the other tickets wait for the next sweep", err=True)
        sys.exit(INTERRUPTED)
    sys.exit(SOME_FAILED if report.failures else 0)


@contextmanager
def _interruptible(stop: threading.Event) -> Iterator[None]:
    """While inside: the first Ctrl-C (SIGINT) sets `stop`, so the sweep finishes the tickets in
    hand and starts no other; a second one ends the process at once, as Ctrl-C usually does."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return

    def first(signum, frame) -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        stop.set()
        # os.write, not print: the interrupted code may be inside a print to the same stream.
        os.write(2, b"sweep: Ctrl-C: finishing the tickets in hand, then stopping (Ctrl-C again stops at once)\n")

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _port_free_or_exit(host: str, port: int, command: str) -> None:
    """A clear line instead of a server library's traceback when the port is taken."""
    import errno
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                fail(f"{command}: port {port} is in use; choose --port")
            fail(f"{command}: cannot listen on {host}:{port}: {error.strerror}")


PORT = click.IntRange(1, 65535)
SANDBOX_PORT = 8090  # not serve's 8080: the two run side by side


@main.command()
@click.option("--port", default=SANDBOX_PORT, show_default=True, type=PORT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", type=click.Path(path_type=Path, dir_okay=False, exists=True), help="JSON seed document (see sandbox/seed.py).")
@click.option("--deployment", type=click.Choice(["cloud", "datacenter"]), default=None, help="Default: project.deployment from app.yaml.")
@click.option("--now", "now_text", default=None, help="Start the sandbox clock here (ISO-8601); default: the real time.")
@click.option("--webhook-url", default=None, help="Send signed webhooks there (as POST /_sandbox/webhooks does), signed with "
                                                 "JSM_AUTOPILOT_WEBHOOK_SECRET.")
@config_option
def sandbox(port: int, host: str, seed: Path | None, deployment: str | None, now_text: str | None, webhook_url: str | None,
            config: Path | None) -> None:
    """Serve a JSM sandbox: Jira's REST subset for one project, with a clock you control."""
    from werkzeug.serving import run_simple

    from jsm_autopilot.sandbox import new_state
    from jsm_autopilot.sandbox.app import create_app
    from jsm_autopilot.sandbox.seed import apply_seed
    from jsm_autopilot.sandbox.state import SandboxError

    settings = site_settings(config)
    _port_free_or_exit(host, port, "sandbox")
    now: datetime | None = None
    if now_text:
        try:
            now = parse_instant(now_text)
        except click.BadParameter as error:
            fail(f"--now: {error.message}")
    state = new_state(settings, deployment, now)
    if seed is not None:
        try:
            keys = apply_seed(state, json.loads(seed.read_text(encoding="utf-8")))
        except (ValueError, KeyError, SandboxError) as error:
            fail(f"{seed}: {error}")
        click.echo(f"Seeded {len(keys)} issue(s) from {seed}.")
    if webhook_url is not None:
        if not webhook_url.startswith(("http://", "https://")):
            fail(f"--webhook-url: an http(s) address, not {webhook_url!r}")
        secret = os.environ.get("JSM_AUTOPILOT_WEBHOOK_SECRET")
        state.webhooks.configure(webhook_url, secret.encode() if secret else None)
        click.echo(f"Webhooks go to {webhook_url} ({'signed' if secret else 'unsigned: JSM_AUTOPILOT_WEBHOOK_SECRET is not set'}).")
    click.echo(
        f"JSM sandbox ({state.deployment}) for project {settings.project.key} on http://{host}:{port}\n"
        f"  clock: POST /_sandbox/clock {{\"now\": ISO-8601}}   faults: POST /_sandbox/faults {{\"rate\": 0.3}}\n"
        f"  requests served: GET /_sandbox/requests"
    )
    run_simple(host, port, create_app(state, settings), threaded=True, use_reloader=False)


__all__ = ["sweep", "sandbox", "BAD_INPUT"]


@main.command()
@click.option("--port", default=8080, show_default=True, type=PORT, envvar="JSM_AUTOPILOT_PORT", show_envvar=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Where to listen; behind a reverse proxy on the same host keep 127.0.0.1, in a container 0.0.0.0.")
@click.option("--dry-run", is_flag=True, help="Shadow mode: receive webhooks and sweep, log and keep what would be done "
                                              "(see `jsm-autopilot shadow`), write nothing to Jira.")
@click.option("--watch-config", is_flag=True, help="Reload app.yaml when the file changes (as on SIGHUP; a broken file "
                                                   "is refused and the previous settings stay).")
@config_option
def serve(port: int, host: str, dry_run: bool, watch_config: bool, config: Path | None) -> None:
    """Run the webhook receiver (POST /webhooks/jira, GET /healthz) and its workers.

    Needs the Jira credentials, JSM_AUTOPILOT_WEBHOOK_SECRET, and JSM_AUTOPILOT_DB (an SQLAlchemy
    URL; default an SQLite file in $XDG_STATE_HOME/jsm-autopilot/). JSM_AUTOPILOT_API_TOKEN switches on POST
    /api/deliveries. SIGTERM drains and exits cleanly.
    """
    import logging

    from jsm_autopilot.service.api import api_token
    from jsm_autopilot.service.logs import configure_json_logging
    from jsm_autopilot.service.serve import (
        Service,
        webhook_secret,
    )

    configure_json_logging(logging.INFO)
    settings = site_settings(config)
    _port_free_or_exit(host, port, "serve")
    # Jira may be down while the service starts: it receives and keeps events meanwhile (/readyz says so).
    client = jira_client(settings, reach=False)
    secret = webhook_secret(settings)
    store = open_store(create=True, write=True)
    settings = with_learned_triage(settings, store)
    from jsm_autopilot.config.loader import default_config_path

    def reload():
        return with_learned_triage(site_settings(config), store)

    watched = (config if config is not None else default_config_path()) if watch_config else None
    Service(settings, store, client, secret, api_token(), dry_run=dry_run, reload_from=reload, watch_config=watched).run(
        host, port, ready=lambda p: click.echo(f"listening on port {p}; /readyz turns ready once Jira ({client.base_url}) and the "
                                               f"store have been checked" + (" (dry run: nothing is written to Jira)" if dry_run else ""),
                                               err=True))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON array: issue, rule, source, summary, first_seen, last_seen, times.")
@click.option("--limit", default=1000, show_default=True, type=int)
def shadow(as_json: bool, limit: int) -> None:
    """What `serve --dry-run` would have done, from the store: one line per firing, oldest first."""
    from jsm_autopilot.store.shadow_firings import ShadowFirings

    found = ShadowFirings(open_store()).list(limit)
    if as_json:
        click.echo(json.dumps([f.as_json() for f in found], indent=2, ensure_ascii=False))
        return
    for firing in found:
        seen = f" (decided {firing.times} times, last {firing.last_seen:%Y-%m-%d %H:%M} UTC)" if firing.times > 1 else ""
        click.echo(f"{firing.first_seen:%Y-%m-%d %H:%M} UTC  {firing.issue:<10} {firing.rule:<24} [{firing.source}] {firing.summary}{seen}")
    click.echo(f"{len(found)} firing(s) would have been applied.", err=True)


@main.group(invoke_without_command=True)
@click.option("--failed", is_flag=True, help="Only events that failed for good (dead letters).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects.")
@click.option("--limit", default=200, show_default=True, type=int)
@click.pass_context
def events(ctx: click.Context, failed: bool, as_json: bool, limit: int) -> None:
    """List stored webhook events, newest first (store: $JSM_AUTOPILOT_DB)."""
    if ctx.invoked_subcommand is not None:
        return
    store = open_store()
    listed = [e.as_json() for e in store.list_events(failed_only=failed, limit=limit)]
    if as_json:
        click.echo(json.dumps(listed, indent=2, ensure_ascii=False))
        return
    console = make_console()
    console.print(f"store: {store.location}", style="dim")
    if not listed:
        console.print("No events." if not failed else "No failed events.")
    for e in listed:
        console.print(f"{e['received']}  {e['status']:<10} {e['issue'] or '-':<10} {e['event']:<22} {e['identifier']}"
                      + (f"\n{'':<34}error: {e['error']}" if e["error"] else ""))


@events.command()
@click.argument("identifier", required=False)
@click.option("--failed", is_flag=True, help="Replay every failed event.")
def replay(identifier: str | None, failed: bool) -> None:
    """Put an event (by identifier) or every failed event back in the queue.

    Exits 0 once queued, 1 when the event is being processed right now, 2 for an identifier the
    store does not hold."""
    from datetime import datetime, timezone

    if (identifier is None) == (not failed):
        fail("events replay: give an event identifier or --failed")
    store = open_store(write=True)
    if identifier is not None and store.find_event(identifier) is None:
        fail(f"events replay: no stored event with identifier {identifier!r} (jsm-autopilot events lists them)")
    count = store.replay(datetime.now(timezone.utc), identifier=identifier, failed=failed)
    if identifier is not None and count == 0:
        raise Busy(f"event {identifier!r} is being processed now; nothing was queued again (replay it once "
                   f"jsm-autopilot events shows it done or failed)")
    click.echo(f"{count} event(s) queued again.")


@main.command()
@click.option("--days", default=60, show_default=True, type=click.IntRange(1, 365), help="Simulated days.")
@click.option("--keep", is_flag=True, help="Leave the sandbox and the service running, with the sandbox's HTML view.")
@click.option("--port", default=SANDBOX_PORT, show_default=True, type=click.IntRange(0, 65535), help="Sandbox port with --keep (0: any free port).")
@config_option
def demo(days: int, keep: bool, port: int, config: Path | None) -> None:
    """The service against a seeded sandbox: 60 simulated days, rules firing as they happen."""
    from jsm_autopilot.service.demo import run_demo

    settings = site_settings(config)
    run_demo(settings, days=days, keep=keep, sandbox_port=port if keep else 0, console=make_console())


@main.command()
@click.option("--probe", is_flag=True, help="Also try it on the site: create one ticket, comment publicly and internally, "
                                            "resolve and close it through the service's own code, then delete it.")
@config_option
def doctor(probe: bool, config: Path | None) -> None:
    """Check the live site against app.yaml: credentials, names, fields, transitions, the webhook.

    One line per finding: ok, FAIL with the fix, warn, or skip for what could not be checked.
    Exits 0 only when nothing failed. --probe writes to the site (one test ticket): run it once
    before going live.
    """
    from jsm_autopilot.connector.doctor import diagnose
    from jsm_autopilot.connector.probe import probe as run_probe
    from jsm_autopilot.errors import JiraError

    settings = site_settings(config)
    client = jira_client(settings, budget_seconds=15, reach=False)  # doctor reports it as a finding
    failed = 0
    findings = diagnose(client, settings)
    if probe:
        from itertools import chain

        findings = chain(findings, run_probe(client, settings, client.server_time))
    try:
        for finding in findings:
            click.echo(finding.line())
            failed += not finding.ok
    except JiraError as error:
        click.echo(f"FAIL  {error} — fix: check that Jira is reachable and the account may read the project")
        failed += 1
    click.echo(f"{failed} problem(s)." if failed else "All checks hold.")
    sys.exit(SOME_FAILED if failed else 0)


@main.group()
def webhook() -> None:
    """The Jira webhook that feeds `serve`."""


@webhook.command("register")
@click.option("--url", required=True, help="Where Jira should deliver: https://<your host>/webhooks/jira")
@config_option
def register(url: str, config: Path | None) -> None:
    """Register the project's admin webhook, or update the existing one (URL, secret, events, JQL).

    The secret comes from JSM_AUTOPILOT_WEBHOOK_SECRET. Cloud and Data Center 9 use
    /rest/webhooks/1.0/webhook; Data Center 10 and later /rest/jira-webhook/1.0/webhooks.
    """
    import os

    from jsm_autopilot.connector.webhook_admin import WebhookAdmin, check_receiver_url

    settings = site_settings(config)
    secret = os.environ.get("JSM_AUTOPILOT_WEBHOOK_SECRET")
    if not secret:
        fail("webhook register: set JSM_AUTOPILOT_WEBHOOK_SECRET, the secret Jira will sign deliveries with")
    for warning in check_receiver_url(url):
        click.echo(f"warning: {warning}", err=True)
    admin = WebhookAdmin(jira_client(settings, budget_seconds=30))
    outcome, hook = admin.register(settings, url, secret)
    click.echo(f"Webhook {hook.id} {hook.name!r} {outcome}: {hook.url} for {', '.join(hook.events)} ({hook.jql})")


@webhook.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects (id, name, url, events, jql, enabled).")
@config_option
def list_webhooks(as_json: bool, config: Path | None) -> None:
    """List the site's admin webhooks; those that deliver this project's events are marked *."""
    from jsm_autopilot.connector.webhook_admin import WebhookAdmin

    settings = site_settings(config)
    admin = WebhookAdmin(jira_client(settings, budget_seconds=30))
    hooks, mine = admin.list(), {h.id for h in admin.of_project(settings)}
    if as_json:
        click.echo(json.dumps([{**h.as_json(), "this_project": h.id in mine} for h in hooks], indent=2))
        return
    for hook in hooks:
        state = "enabled" if hook.enabled else "disabled"
        click.echo(f"{'*' if hook.id in mine else ' '} {hook.id}  {hook.name}  {hook.url}  [{state}]  {hook.jql}")
    if len(mine) > 1:
        click.echo(f"{len(mine)} webhooks deliver project {settings.project.key}'s events: each event arrives {len(mine)} times.", err=True)


@webhook.command("delete")
@click.argument("webhook_id")
@config_option
def delete_webhook(webhook_id: str, config: Path | None) -> None:
    """Delete the admin webhook with this id (see `webhook list`)."""
    from jsm_autopilot.connector.webhook_admin import WebhookAdmin

    settings = site_settings(config)
    WebhookAdmin(jira_client(settings, budget_seconds=30)).delete(webhook_id)
    click.echo(f"Webhook {webhook_id} deleted.")

