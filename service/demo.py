"""`jsm-autopilot demo`: the service against a seeded sandbox, 60 simulated days, rules firing live.

Everything runs for real: the sandbox answers Jira's REST API and sends signed webhooks, the
service's receiver stores them, its workers act, and a sweep runs after each simulated day.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import requests
import waitress
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from jsm_autopilot.config.environment import JiraCredentials
from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.documents import adf_document
from jsm_autopilot.connector.oncall import OnCallSender
from jsm_autopilot.rules.actions import AUDIT_PREFIX, InternalComment, PublicComment
from jsm_autopilot.rules.catalogue import RULES
from jsm_autopilot.sandbox import account_id_for, new_state, start_sandbox
from jsm_autopilot.sandbox.demo_project import AGENT, BOT, ORGANISATIONS, demo_script, demo_seed
from jsm_autopilot.sandbox.seed import apply_seed
from jsm_autopilot.service.http_server import create_server
from jsm_autopilot.service.serve import Service
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.webhooks.receiver import utc_now

DEMO_SECRET = "demo-webhook-secret"
DEMO_API_TOKEN = "demo-api-token"


@dataclass
class DemoResult:
    days: int
    by_rule: Counter = field(default_factory=Counter)  # (rule, "sweep" | "webhook")
    statuses: Counter = field(default_factory=Counter)
    api_calls: int = 0
    deliveries: int = 0
    sandbox_url: str = ""
    oncall_alerts: list = field(default_factory=list)
    deferred: Counter = field(default_factory=Counter)  # firings that waited for working hours, by rule


def demo_settings(settings: Settings) -> Settings:
    """The shipped settings, pointed at the demo's automation user, reacting without delay."""
    return settings.model_copy(update={
        "automation": settings.automation.model_copy(update={"account": account_id_for(BOT)}),
        "project": settings.project.model_copy(update={"deployment": "cloud"}),
        "webhooks": settings.webhooks.model_copy(update={"settle_seconds": 0.0}),
    })


class _OnCallReceiver:
    """A stand-in for the on-call service's alert endpoint: it keeps what it receives."""

    def __init__(self):
        from flask import Flask, request

        self.alerts: list[dict] = []
        app = Flask("oncall-receiver")

        @app.post("/alerts")
        def receive():
            self.alerts.append(request.get_json())
            return {"status": "alerted"}, 202

        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
        threading.Thread(target=self.server.run, name="demo-oncall", daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.effective_port}/alerts"

    def close(self) -> None:
        self.server.close()


class _Session:
    def __init__(self, url: str, email: str):
        self.url, self.http = url, requests.Session()
        self.http.auth = (email, "demo-token")

    def comment(self, key: str, text: str) -> None:
        self.http.post(f"{self.url}/rest/api/3/issue/{key}/comment", json={"body": adf_document(text)}).raise_for_status()

    def edit(self, key: str, fields: dict) -> None:
        self.http.put(f"{self.url}/rest/api/3/issue/{key}", json={"fields": fields}).raise_for_status()

    def raise_request(self, settings: Settings, issue_type: str, summary: str, description: str, organisation_id: int,
                      priority: str | None = None) -> str:
        """As a customer on the portal: a request with a request type, shared with the organisation."""
        text = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": description}]}]}
        fields = {"project": {"key": settings.project.key}, "issuetype": {"name": issue_type}, "summary": summary, "description": text,
                  "customfield_10010": "1", settings.fields.organizations: [organisation_id]}
        if priority:
            fields["priority"] = {"name": priority}
        answer = self.http.post(f"{self.url}/rest/api/3/issue", json={"fields": fields})
        answer.raise_for_status()
        return answer.json()["key"]

    def move(self, key: str, status: str, text: str) -> None:
        offered = self.http.get(f"{self.url}/rest/api/3/issue/{key}/transitions", params={"expand": "transitions.fields"}).json()["transitions"]
        chosen = next(t for t in offered if t["to"]["name"] == status)
        payload: dict = {"transition": {"id": chosen["id"]}}
        if "resolution" in chosen.get("fields", {}):  # the agent fills in the screen
            payload["fields"] = {"resolution": {"name": "Done"}}
        if text:
            payload["update"] = {"comment": [{"add": {"body": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": text}]}]}}}]}
        self.http.post(f"{self.url}/rest/api/3/issue/{key}/transitions", json=payload).raise_for_status()


def run_demo(settings: Settings, days: int = 60, keep: bool = False, sandbox_port: int = 0,
             console: Console | None = None, start: datetime | None = None) -> DemoResult:
    console = console or Console(highlight=False)
    settings = demo_settings(settings)
    start = start or datetime(2026, 11, 2, 9, 0, tzinfo=settings.project.zone)
    state = new_state(settings, "cloud", start)
    # This demo site's workflow scheme gives incidents and requests one workflow, so the mail
    # handler's Incident can become a Request by an edit (on JSM's templates that takes a Move).
    state.workflow.workflow_of[settings.issue_types.incident] = state.workflow.workflow_of[settings.issue_types.request]
    apply_seed(state, demo_seed(start, settings))
    sandbox = start_sandbox(state, port=sandbox_port)
    directory = tempfile.TemporaryDirectory(prefix="jsm-autopilot-demo-")
    store = EventStore(f"sqlite:///{Path(directory.name) / 'events.db'}")
    store.migrate()
    client = JiraClient(JiraCredentials(sandbox.url, BOT, "demo-token"), "cloud")
    service = Service(settings, store, client, DEMO_SECRET.encode(), DEMO_API_TOKEN.encode())
    receiver = _OnCallReceiver()
    service.executor.alerts = OnCallSender(receiver.url)
    heard: dict[str, list] = {}  # rule -> the first firing's actions, one with a public comment where there is one

    def hear(actions: list) -> None:
        public = any(isinstance(a, PublicComment) for a in actions)
        known = heard.get(actions[0].rule)
        if known is None or (public and not any(isinstance(a, PublicComment) for a in known)):
            heard[actions[0].rule] = list(actions)

    service.executor.on_actions_applied = hear
    server = create_server(service.app, host="127.0.0.1", port=0, threads=4)  # as serve answers
    threading.Thread(target=server.run, name="demo-receiver", daemon=True).start()
    for thread in service.threads:
        thread.start()
    service_url = f"http://127.0.0.1:{server.effective_port}"
    requests.post(f"{sandbox.url}/_sandbox/webhooks", json={"url": f"{service_url}/webhooks/jira", "secret": DEMO_SECRET}).raise_for_status()
    result = DemoResult(days=days, sandbox_url=sandbox.url)
    try:
        _simulate(settings, state, sandbox.url, service, store, days, start, console, result, service_url)
        result.api_calls = sum(client.calls.values())
        result.deliveries = state.webhooks.sent
        result.statuses = Counter(issue.status for issue in state.issues.values())
        result.oncall_alerts = list(receiver.alerts)
        for alert in receiver.alerts:
            console.print(f"on-call receiver: alert for {alert['issue']} ({alert['priority'] or 'no priority'}, region {alert['region']})")
        console.print(_summary(result))
        console.print(_statuses(result))
        _show_what_customers_received(console, settings, state, heard)
        if keep:
            console.print(f"\nStill running. Tickets as agents would see them: {sandbox.url}/  "
                          f"(one ticket: {sandbox.url}/browse/SD-9)\nService health: {service_url}/healthz   Stop with Ctrl-C.")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                pass
        return result
    finally:
        service.stop.set()
        for thread in service.threads:
            thread.join(timeout=10)
        server.close()
        receiver.close()
        sandbox.stop()
        store.dispose()
        directory.cleanup()


def _simulate(settings, state, sandbox_url, service, store, days, start, console, result, service_url) -> None:
    script = demo_script()
    agent = _Session(sandbox_url, AGENT)
    by_api: set[tuple[str, str]] = set()
    seen: dict[str, int] = {}
    project = settings.project.key
    columns = [TextColumn("[bold]simulated days"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[date]}")]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("days", total=days, date="")
        for day in range(days + 1):
            moment = start + timedelta(days=day)
            requests.post(f"{sandbox_url}/_sandbox/clock", json={"now": moment.isoformat()}).raise_for_status()
            for step in (s for s in script if s.day == day):
                key = f"{project}-{step.number}" if step.number else ""
                if step.what.startswith("delivery:"):
                    organisation, version, estimated = step.what.split(":", 1)[1].split("|")
                    answer = requests.post(f"{service_url}/api/deliveries", headers={"Authorization": f"Bearer {DEMO_API_TOKEN}"},
                                           json={"organisation": organisation, "version": version, "estimated_date": estimated})
                    answer.raise_for_status()
                    made = answer.json()
                    by_api.update((a["issue"], a["rule"]) for a in made["actions"])
                    doing = (f"POST /api/deliveries {organisation} {version} {estimated}: "
                             f"{answer.status_code} {made['key']} with {', '.join(made['included']) or 'no tickets'}")
                    progress.console.print(f"[dim]day {day:>2}  {made['key']:<6} {step.who} {doing}[/dim]")
                    continue
                key, doing = _act(settings, state, sandbox_url, agent, step, key)
                progress.console.print(f"[dim]day {day:>2}  {key:<6} {step.who} {doing}[/dim]")
            _wait_until_quiet(state, store)
            # The day's sweeps: once a type change made today has settled (reclassification.grace),
            # then at each other region's next morning, so that what waited for its working hours
            # (hours.window) is seen to happen then.
            settled = moment + settings.reclassification.grace.nominal + timedelta(minutes=1)
            for instant in [settled, *_other_mornings(settings, settled, start + timedelta(days=day + 1))]:
                requests.post(f"{sandbox_url}/_sandbox/clock", json={"now": instant.isoformat()}).raise_for_status()
                swept = set()
                report = service.scheduled_sweep(on_firing=lambda actions, outcome, swept=swept: swept.add((actions[0].issue, actions[0].rule)))
                _wait_until_quiet(state, store)
                if report is not None and report.deferred:
                    result.deferred.update(report.deferred)
                    waiting = ", ".join(f"{rule} {n}" for rule, n in sorted(report.deferred.items()))
                    progress.console.print(f"[dim]day {day:>2}  {_closed_desks(settings, instant)}: nothing customer-facing there now "
                                           f"({waiting} wait for the desk's next working hour)[/dim]")
                for key, rule, reason in _new_firings(state, seen, settings.automation.property_key):
                    via = "API" if (key, rule) in by_api else "sweep" if (key, rule) in swept else "webhook"
                    by_api.discard((key, rule))
                    result.by_rule[(rule, via)] += 1
                    progress.console.print(f"day {day:>2}  {key:<6} [bold]{rule:<23}[/bold] via {via:<7} {reason}")
            progress.update(task, completed=day, date=moment.strftime("%Y-%m-%d"))


def _closed_desks(settings, instant: datetime) -> str:
    """Which regions' desks are closed at `instant`, and why: "emea (Christmas Day), apac (Sat 19:03)"."""
    closed = []
    for name in settings.regions:
        calendar = settings.calendar_of(name)
        local = instant.astimezone(calendar.zone)
        if not calendar.is_open(instant, settings.service_hours.business_hours_only):
            closed.append(f"{name} ({calendar.holiday(local.date()) or format(local, '%a %H:%M')})")
    return "closed: " + ", ".join(closed)


def _other_mornings(settings, after: datetime, before: datetime) -> list[datetime]:
    """09:00 local in each region whose morning falls between the day's sweep and the next day."""
    mornings = set()
    for name in settings.regions:
        zone = settings.calendar_of(name).zone
        local = after.astimezone(zone)
        for day in (local.date(), local.date() + timedelta(days=1)):
            morning = datetime.combine(day, datetime.min.time(), tzinfo=zone).replace(hour=9)
            if after < morning < before:
                mornings.add(morning)
    return sorted(mornings)


def _act(settings, state, sandbox_url, agent: _Session, step, key: str) -> tuple[str, str]:
    """Carry out one step of a person; (the ticket, what they did)."""
    kind, _, argument = step.what.partition(":")
    if kind == "new":
        summary, description = step.text.split("|", 1)
        type_role, _, priority_role = argument.partition(":")
        priority = getattr(settings.priorities, priority_role) if priority_role else None
        with state.lock:
            organisation = next(o["id"] for o in state.organisations.values() if o["name"] == "Acme Learning Ltd")
        made = _Session(sandbox_url, ORGANISATIONS["Acme Learning Ltd"][1][0]).raise_request(
            settings, getattr(settings.issue_types, type_role), summary, description, organisation, priority)
        return made, f"raises \"{summary}\"" + (f" at {priority}" if priority else "")
    if step.who == "customer":
        with state.lock:
            reporter = state.issues[key].reporter.email
        _Session(sandbox_url, reporter).comment(key, step.text)
        return key, "replies"
    if kind == "comment":
        agent.comment(key, step.text)
        return key, "answers"
    if kind == "priority":
        agent.edit(key, {"priority": {"name": getattr(settings.priorities, argument)}})
        return key, f"sets priority {getattr(settings.priorities, argument)}"
    if kind == "type":
        agent.edit(key, {"issuetype": {"name": getattr(settings.issue_types, argument)}})
        return key, f"changes the type to {getattr(settings.issue_types, argument)}"
    if kind == "version":
        agent.edit(key, {settings.fields.delivery_version: argument})
        return key, f"sets the Delivery version {argument}"
    if kind == "confidential":
        agent.edit(key, {settings.fields.confidential: "Yes"})
        return key, "marks it as holding confidential personal data"
    if kind == "maintenance":
        agent.edit(key, {settings.fields.maintenance_date: argument})
        return key, f"plans the maintenance for {argument[:16].replace('T', ' ')}"
    status = getattr(settings.statuses, argument)
    agent.move(key, status, step.text)
    return key, f"moves it to {status}"


def _wait_until_quiet(state, store, timeout: float = 30, settle: float = 1.0) -> None:
    """Until the sandbox has sent every webhook and the workers have handled every event."""
    # Events a worker deferred (a reclassification settling) are left to the next day's sweep.
    pause, deadline = threading.Event(), datetime.now() + timedelta(seconds=timeout)
    while state.webhooks.pending or store.has_work(utc_now() + timedelta(seconds=settle)):
        if datetime.now() > deadline:
            stuck = [(e.issue, e.status, e.event) for e in store.list_events(limit=20) if e.status in ("pending", "processing")]
            raise RuntimeError(f"the service did not catch up with the sandbox in time ({stuck[:5]})")
        pause.wait(0.02)
    pause.wait(0.05)  # a delivery in flight has left the queue but not yet reached the store
    while store.has_work(utc_now() + timedelta(seconds=settle)):
        pause.wait(0.02)


MENTION = re.compile(r"\[~(?:accountid:)?([^\]]+)\]")


def _new_firings(state, seen: dict[str, int], property_key: str) -> list[tuple[str, str, str]]:
    found = []
    with state.lock:
        for issue in sorted(state.issues.values(), key=lambda i: i.id):
            firings = (issue.properties.get(property_key) or {}).get("firings") or []
            for entry in firings[seen.get(issue.key, 0):]:
                note = next((c.text for c in reversed(issue.comments) if not c.public and c.text.startswith(f"{AUDIT_PREFIX} · {entry['rule']}:")), "")
                text, _, mentions = note.split(": ", 1)[-1].partition("\n\n")
                found.append((issue.key, entry["rule"], text + (f" (mentions {', '.join(MENTION.findall(mentions))})" if mentions else "")))
            seen[issue.key] = len(firings)
    return found


def _summary(result: DemoResult) -> Table:
    table = Table(title=f"{result.days} simulated days", show_header=True, header_style="bold")
    table.add_column("rule")
    table.add_column("via sweep", justify="right")
    table.add_column("via webhook", justify="right")
    table.add_column("via API", justify="right")
    for rule in sorted({rule for rule, _ in result.by_rule}):
        table.add_row(rule, *(str(result.by_rule[(rule, via)]) for via in ("sweep", "webhook", "API")))
    table.add_section()
    table.add_row("Jira API calls", str(result.api_calls), "", "")
    table.add_row("webhooks delivered", "", str(result.deliveries), "")
    return table


def _statuses(result: DemoResult) -> Table:
    table = Table(title="tickets now", show_header=False)
    for status, count in result.statuses.most_common():
        table.add_row(status, str(count))
    return table


def _show_what_customers_received(console: Console, settings: Settings, state, heard: dict[str, list]) -> None:
    """For each rule that fired, one text as its reader got it: the customer's public comment, or,
    for rules that speak only to agents, the internal note."""
    console.print("\n[bold]What the rules wrote[/bold] (one example per rule, as its reader received it)")
    for rule in (r.id for r in RULES):
        actions = heard.get(rule)
        if not actions:
            continue
        public = next((a for a in actions if isinstance(a, PublicComment)), None)
        shown = public or next((a for a in actions if isinstance(a, InternalComment)), None)
        if shown is None:
            continue
        with state.lock:
            issue = state.issues.get(shown.issue)
            organisation = next((state.organisations[o]["name"] for o in (issue.custom_fields.get(settings.fields.organizations) or [])
                                 if o in state.organisations), "no organisation") if issue else "?"
        if public is not None:
            language = {"en": "English", "de": "German"}.get(public.language, public.language)
            header = f"{rule}: the public comment on {shown.issue} that {organisation} received, in {language}"
        else:
            header = f"{rule}: speaks to agents only; the internal note on {shown.issue}"
        console.print(f"\n[bold]── {header}[/bold]")
        console.print(shown.body, markup=False, highlight=False)
