"""`jsm-autopilot doctor`: does the live site match app.yaml? One finding per check, with the fix."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

from config.settings import Settings
from connector.client import JiraClient, JiraError
from connector.jql import jql_string

PUBLIC_URL_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_PUBLIC_URL"
WEBHOOK_EVENTS = ["jira:issue_created", "jira:issue_updated", "comment_created", "comment_updated"]


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"ok    {self.what}" if self.ok else f"FAIL  {self.what} — fix: {self.fix}"


def _check(ok: bool, what: str, fix: str) -> Finding:
    return Finding(ok, what, "" if ok else fix)


def diagnose(client: JiraClient, settings: Settings, environ=os.environ) -> Iterator[Finding]:
    """Each check yields its finding; later checks are skipped when credentials or project fail."""
    key = settings.project.key
    try:
        me = client.myself()
    except JiraError as error:
        yield Finding(False, f"credentials: Jira answered {error.status}", "check JIRA_URL and JIRA_USER/JIRA_API_TOKEN (Cloud) or JIRA_PAT")
        return
    identity = me.get("accountId") or me.get("name") or me.get("key")
    yield Finding(True, f"credentials work for {me.get('displayName') or identity}")
    yield _check(identity == settings.automation.account, f"automation.account is the account of these credentials ({identity})",
                 f"set automation.account: {identity} in app.yaml, or use that account's credentials")
    try:
        client.call("GET", client.api(f"project/{key}"))
    except JiraError as error:
        yield Finding(False, f"project.key {key} exists (Jira answered {error.status})", "set project.key to your JSM project's key")
        return
    yield Finding(True, f"project {key} exists")
    yield from _names(client, settings)
    yield from _transitions(client, settings)
    yield from _webhook(client, settings, environ)


def _names(client: JiraClient, settings: Settings) -> Iterator[Finding]:
    per_type = client.call("GET", client.api(f"project/{settings.project.key}/statuses"))
    type_names = {t["name"] for t in per_type}
    status_names = {s["name"] for t in per_type for s in t.get("statuses", [])}
    for role, name in settings.issue_types.model_dump().items():
        yield _check(name in type_names, f"issue_types.{role}: {name!r} exists",
                     f"set issue_types.{role} to one of: {', '.join(sorted(type_names))}")
    for role, name in settings.statuses.model_dump().items():
        yield _check(name in status_names, f"statuses.{role}: {name!r} exists",
                     f"set statuses.{role} to one of: {', '.join(sorted(status_names))}")
    priorities = {p["name"] for p in client.call("GET", client.api("priority"))}
    for role, name in settings.priorities.model_dump().items():
        yield _check(name in priorities, f"priorities.{role}: {name!r} exists", f"set priorities.{role} to one of: {', '.join(sorted(priorities))}")
    link_types = {t["name"] for t in client.call("GET", client.api("issueLinkType")).get("issueLinkTypes", [])}
    yield _check(settings.deliveries.link_type in link_types, f"deliveries.link_type: {settings.deliveries.link_type!r} exists",
                 f"set deliveries.link_type to one of: {', '.join(sorted(link_types))}")
    field_ids = {f["id"] for f in client.call("GET", client.api("field"))}
    for role, field_id in settings.fields.model_dump().items():
        if field_id:
            yield _check(field_id in field_ids, f"fields.{role}: {field_id} exists",
                         f"set fields.{role} to the field's id (Jira: Settings > Issues > Custom fields)")


def _transitions(client: JiraClient, settings: Settings) -> Iterator[Finding]:
    """The transitions the rules use, checked on a ticket that is in the starting status."""
    statuses = settings.statuses
    needed = [(statuses.clarification, statuses.closed, settings.transitions.close, "transitions.close"),
              (statuses.resolved, statuses.closed, settings.transitions.close, "transitions.close"),
              (statuses.resolved, statuses.hand_back_to, settings.transitions.hand_back, "transitions.hand_back")]
    for source, target, name, setting in needed:
        jql = f"project = {jql_string(settings.project.key)} AND status = {jql_string(source)}"
        sample = next(iter(client.search(jql, ["status"], page_size=1)), None)
        what = f"{setting}: a transition from {source!r} to {target!r}" + (f" named {name!r}" if name else "")
        if sample is None:
            yield Finding(True, f"{what} (not checked: no ticket is in {source!r} now)")
            continue
        offered = client.transitions(sample["key"])
        found = any((t.get("to") or {}).get("name") == target and (name is None or t.get("name") == name) for t in offered)
        names = ", ".join(f"{t.get('name')} -> {(t.get('to') or {}).get('name')}" for t in offered)
        yield _check(found, f"{what} is offered (seen on {sample['key']})", f"add it to the workflow, or set {setting} to one of: {names or 'none'}")


def _webhook(client: JiraClient, settings: Settings, environ) -> Iterator[Finding]:
    public_url = (environ.get(PUBLIC_URL_ENVIRONMENT_VARIABLE) or "").rstrip("/")
    try:
        hooks = client.call("GET", "rest/webhooks/1.0/webhook")
    except JiraError as error:
        yield Finding(False, f"webhooks can be listed (Jira answered {error.status})", "the automation account needs the Jira administrator permission")
        return
    for hook in hooks:
        url = hook.get("url", "")
        project_filter = settings.project.key in str((hook.get("filters") or {}).get("issue-related-events-section", ""))
        if (url == f"{public_url}/webhooks/jira" if public_url else project_filter) and hook.get("enabled", True):
            missing = [e for e in WEBHOOK_EVENTS if e not in hook.get("events", [])]
            yield _check(not missing, f"webhook {hook.get('name')!r} -> {url} is registered",
                         f"add the events {', '.join(missing)} to it")
            return
    target = f"{public_url}/webhooks/jira" if public_url else "$JSM_AUTOPILOT_PUBLIC_URL/webhooks/jira"
    yield Finding(False, f"a webhook for project {settings.project.key} pointing at {target} is registered",
                  f"run: jsm-autopilot webhook register --url {target}")


def register_webhook(client: JiraClient, settings: Settings, url: str, secret: str) -> tuple[bool, dict]:
    """Register the admin webhook (events, JQL filter for the project, secret); (created, webhook)."""
    for hook in client.call("GET", "rest/webhooks/1.0/webhook"):
        if hook.get("url") == url:
            return False, hook
    body = {"name": f"jsm-autopilot {settings.project.key}", "url": url, "events": WEBHOOK_EVENTS,
            "filters": {"issue-related-events-section": f"project = {jql_string(settings.project.key)}"},
            "excludeBody": False, "secret": secret}
    return True, client.call("POST", "rest/webhooks/1.0/webhook", body=body)
