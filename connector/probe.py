"""`doctor --probe`: try the assumptions the service makes on this very site, once, before going live.

It creates one ticket as the automation and, through the executor's own code paths, adds a public
comment and an internal note, reads their visibility back, runs the transitions to Resolved and
Closed (filling the screens as the service does), then deletes the ticket, or leaves it Closed
where the account may not delete. Each step prints `ok` or `FAIL` with Jira's answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterator

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.doctor import Finding
from jsm_autopilot.connector.executor import Executor
from jsm_autopilot.connector.mapping import firing_log
from jsm_autopilot.connector.reading import read_ticket
from jsm_autopilot.errors import JiraError, JiraRefused
from jsm_autopilot.rules.actions import Action, InternalComment, PublicComment, Transition
from jsm_autopilot.rules.model import Ticket

PROBE_RULE = "doctor.probe"


def probe(client: JiraClient, settings: Settings, now: Callable[[], datetime]) -> Iterator[Finding]:
    """The findings of one probe; stops at the first step the next ones depend on."""
    executor = Executor(client, settings)
    try:
        created = client.call("POST", client.api("issue"), body={"fields": {
            "project": {"key": settings.project.key}, "issuetype": {"name": settings.issue_types.request},
            "summary": "jsm-autopilot doctor --probe: a test ticket, deleted when the probe ends"}})
    except JiraError as error:
        yield Finding("FAIL", f"probe: the automation can create a {settings.issue_types.request!r} in {settings.project.key}",
                      f"Jira answered {error.status}: {error.answer}")
        return
    key = created["key"]
    yield Finding("ok", f"probe: created {key} as the automation")
    try:
        yield from _steps(client, settings, executor, key, now)
    except JiraError as error:
        yield Finding("FAIL", f"probe: reading {key} back", f"Jira answered {error.status}: {error.answer}")
    yield _clean_up(client, key)


def _steps(client: JiraClient, settings: Settings, executor: Executor, key: str, now: Callable[[], datetime]) -> Iterator[Finding]:
    issue_json, ticket = read_ticket(client, settings, key)
    reason = "doctor --probe checks this site before the service goes live"
    public = PublicComment(key, PROBE_RULE, reason, body="jsm-autopilot probe: a public comment", language="en", template="probe")
    note = InternalComment(key, PROBE_RULE, reason, body="jsm-autopilot probe: an internal note")
    failed = _apply(executor, ticket, issue_json, [public, note], now())
    if failed:
        yield Finding("FAIL", "probe: a public comment (PUT /issue update.comment) and an internal note (sd.public.comment)", failed)
        return
    issue_json, ticket = read_ticket(client, settings, key)
    by_body = {c.body.strip(): c for c in ticket.comments}
    seen_public, seen_note = by_body.get(public.body), by_body.get(note.body)
    yield _found(seen_public is not None and seen_public.public, "probe: the comment written with the firing log is public",
                 "customers would not see reminders and closures", seen_public)
    yield _found(seen_note is not None and not seen_note.public, "probe: the audit note is internal",
                 "customers would see the automation's notes", seen_note)
    yield _found(bool(ticket.firings) and ticket.firings[-1].rule == PROBE_RULE, "probe: the firing log (issue property) is read back",
                 "the service could not tell what it already did", ticket.firings[-1] if ticket.firings else None)
    for target in (settings.statuses.resolved, settings.statuses.closed):
        move = Transition(key, PROBE_RULE, reason, to_status=target)
        failed = _apply(executor, ticket, issue_json, [move], now())
        issue_json, ticket = read_ticket(client, settings, key)
        if failed or ticket.status != target:
            yield Finding("FAIL", f"probe: the transition to {target!r}, its screen filled as the service fills it",
                          failed or f"the ticket is in {ticket.status!r}")
            return
        yield Finding("ok", f"probe: the transition to {target!r}, its screen filled as the service fills it")


def _apply(executor: Executor, ticket: Ticket, issue_json: dict, actions: list[Action], at: datetime) -> str:
    outcomes = executor.apply(ticket, dict(firing_log(issue_json, executor.settings)), actions, at)
    return "; ".join(o.error or "" for o in outcomes if not o.applied)


def _found(ok: bool, what: str, consequence: str, seen: object) -> Finding:
    return Finding("ok", what) if ok else Finding("FAIL", what, f"{consequence} (read back: {seen!r})")


def _clean_up(client: JiraClient, key: str) -> Finding:
    try:
        client.call("DELETE", client.api(f"issue/{key}"), write=False)
    except JiraRefused as refused:
        return Finding("warn", f"probe: {key} could not be deleted (Jira answered {refused.status}: {refused.answer})",
                       "it is left Closed; delete it by hand if you like")
    except JiraError as error:
        return Finding("warn", f"probe: {key} could not be deleted ({error})", "delete it by hand")
    return Finding("ok", f"probe: deleted {key}")
