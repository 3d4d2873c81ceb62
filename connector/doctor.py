"""`jsm-autopilot doctor`: does the live site match app.yaml? One finding per check, with the fix.

A finding is `ok`, `FAIL` (with the fix), `warn` (works, but not as it should), or `skip` (could
not be checked here, and says why). Nothing that was not checked is reported `ok`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator

from jsm_autopilot.config.environment import credential_variables, credentials_fix
from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient, jira_away, paged_values
from jsm_autopilot.connector.deliveries import request_type_id, service_desk_id
from jsm_autopilot.connector.jql import jql_string
from jsm_autopilot.connector.webhook_admin import RECEIVER_PATH, WEBHOOK_EVENTS, WebhookAdmin
from jsm_autopilot.errors import DeliveryRequestError, JiraError

PUBLIC_URL_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_PUBLIC_URL"

# What each field of app.yaml must be, as GET /field describes it: (schema key, accepted values).
_TYPES = "com.atlassian.jira.plugin.system.customfieldtypes:"
FIELD_ROLES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "organizations": ("custom", ("com.atlassian.servicedesk:sd-customer-organizations",), "JSM's Organizations field"),
    "request_participants": ("custom", ("com.atlassian.servicedesk:sd-request-participants",), "JSM's Request participants field"),
    "estimated_delivery_date": ("type", ("date",), "a date field"),
    "accepted_at": ("type", ("datetime",), "a date-time field"),
    "maintenance_date": ("type", ("datetime",), "a date-time field"),
    "delivery_version": ("type", ("string",), "a text field"),
    "documentation_links": ("type", ("string",), "a text field"),
    "environment": ("type", ("string",), "a text field"),
    "confidential": ("type", ("option", "string"), "a select list or text field"),
    "urgency": ("type", ("option", "string"), "a select list or text field"),
    "impact": ("type", ("option", "string"), "a select list or text field"),
}


@dataclass(frozen=True)
class Finding:
    status: str  # "ok", "FAIL", "warn" or "skip"
    what: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "FAIL"

    def line(self) -> str:
        return f"{self.status:<6}{self.what}" + (f" — fix: {self.fix}" if self.fix else "")


def _check(ok: bool, what: str, fix: str) -> Finding:
    return Finding("ok", what) if ok else Finding("FAIL", what, fix)


def diagnose(client: JiraClient, settings: Settings, environ=os.environ) -> Iterator[Finding]:
    """Each check yields its findings; later checks are skipped when credentials or project fail."""
    key = settings.project.key
    try:
        me = client.myself()
    except JiraError as error:
        if error.status == 401:
            yield Finding("FAIL", f"credentials: Jira refused the credentials in {credential_variables(client.deployment)} (401)",
                          credentials_fix(client.deployment))
            return
        said = f"Jira answered {error.status}" if error.status is not None else f"no answer from {client.base_url} ({error.answer})"
        yield Finding("FAIL", f"credentials: {said}", "check JIRA_URL and JIRA_USER/JIRA_API_TOKEN (Cloud) or JIRA_PAT")
        return
    identity = me.get("accountId") or me.get("name") or me.get("key")
    yield Finding("ok", f"credentials work for {me.get('displayName') or identity}")
    yield _check(identity == settings.automation.account, f"automation.account is the account of these credentials ({identity})",
                 f"set automation.account: {identity} in app.yaml, or use that account's credentials")
    try:
        project = client.call("GET", client.api(f"project/{key}"))
    except JiraError as error:
        yield Finding("FAIL", f"project.key {key} exists (Jira answered {error.status})", "set project.key to your JSM project's key")
        return
    yield Finding("ok", f"project {key} exists")
    for check in (_names, _fields, _resolution, lambda c, s: _transitions(c, s, project), _organisations, _security_levels,
                  _request_type):
        yield from _guarded(check, client, settings)
    yield from _guarded(lambda c, s: _webhook(c, s, environ), client, settings)


def name_findings(client: JiraClient, settings: Settings) -> list[Finding]:
    """The checks of the names app.yaml gives (statuses, issue types, priorities, link type,
    fields, resolution, transitions, organisations, request type) that failed: what `serve` runs
    at start and after each reload, so that a misspelt name is told, not a rule silently dead."""
    project = client.call("GET", client.api(f"project/{settings.project.key}"))
    checks = (_names, _fields, _resolution, lambda c, s: _transitions(c, s, project), _organisations, _request_type)
    return [finding for check in checks for finding in _guarded(check, client, settings, raise_when_away=True) if not finding.ok]


def _guarded(check: Callable[[JiraClient, Settings], Iterator[Finding]], client: JiraClient, settings: Settings,
             raise_when_away: bool = False) -> Iterator[Finding]:
    """One check's findings; a refusal the check did not expect is a finding, not a crash. With
    `raise_when_away`, no answer or a 5xx is raised: Jira away says nothing about app.yaml."""
    try:
        yield from check(client, settings)
    except JiraError as error:
        if raise_when_away and jira_away(error):
            raise
        yield Finding("FAIL", f"{error.method} {error.path}: Jira answered {error.status}: {error.answer}",
                      "the automation account may lack a permission this check needs")


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


def _fields(client: JiraClient, settings: Settings) -> Iterator[Finding]:
    """Each field exists and is of the kind its role needs: a custom field id names different
    fields on different sites, and a wrong one fails only when a rule first writes to it."""
    by_id = {f["id"]: f for f in client.call("GET", client.api("field"))}
    for role, field_id in settings.fields.model_dump().items():
        if not field_id:
            continue
        found = by_id.get(field_id)
        if found is None:
            yield Finding("FAIL", f"fields.{role}: {field_id} exists", f"set fields.{role} to the field's id (Jira: Settings > Issues > Custom fields)")
            continue
        expectation = FIELD_ROLES.get(role)
        schema = found.get("schema") or {}
        if expectation is None:
            yield Finding("ok", f"fields.{role}: {field_id} exists ({found.get('name')})")
            continue
        key, accepted, kind = expectation
        if not schema:
            yield Finding("skip", f"fields.{role}: {field_id} ({found.get('name')}) is {kind}", "Jira showed no schema for it")
            continue
        actual = schema.get(key)
        matching = [f"{f['id']} ({f.get('name')})" for f in by_id.values() if (f.get("schema") or {}).get(key) in accepted][:5]
        yield _check(actual in accepted, f"fields.{role}: {field_id} ({found.get('name')}) is {kind}",
                     f"it is {schema.get('custom') or schema.get('type')}; set fields.{role} to one of: {', '.join(matching) or 'none found'}")


def _resolution(client: JiraClient, settings: Settings) -> Iterator[Finding]:
    names = [r.get("name") for r in client.call("GET", client.api("resolution"))]
    wanted = settings.resolutions.done
    yield _check(wanted in names, f"resolutions.done: {wanted!r} exists (sent where Resolved and Closed ask for a Resolution)",
                 f"set resolutions.done to one of: {', '.join(n for n in names if n)}")


def _needed_transitions(settings: Settings) -> list[tuple[str, str, str | None, str]]:
    s, t = settings.statuses, settings.transitions
    return [(s.clarification, s.closed, t.close, "transitions.close"), (s.resolved, s.closed, t.close, "transitions.close"),
            (s.resolved, s.hand_back_to, t.hand_back, "transitions.hand_back"), (s.opened, s.in_review, t.accept, "transitions.accept"),
            (s.in_progress, s.resolved, t.resolve, "transitions.resolve")]


def _transitions(client: JiraClient, settings: Settings, project: dict) -> Iterator[Finding]:
    """The transitions the rules use, from the project's workflows (Cloud's workflow API needs
    no ticket in each status); where that API is missing (Data Center), from a ticket that is in
    the starting status, else skipped."""
    workflows = _project_workflows(client, str(project.get("id")))
    for source, target, name, setting in _needed_transitions(settings):
        what = f"{setting}: a transition from {source!r} to {target!r}" + (f" named {name!r}" if name else "")
        if workflows is not None:
            offered = [tr for statuses, transitions in workflows for tr in transitions
                       if statuses.get(tr.get("to", "")) == target and (not tr.get("from") or any(statuses.get(f) == source for f in tr["from"]))]
            found = any(name is None or tr.get("name") == name for tr in offered)
            names = ", ".join(sorted({tr.get("name", "?") for tr in offered}))
            yield _check(found, f"{what} is in the project's workflows",
                         f"add it to the workflow, or set {setting} to one of: {names or 'none leads there'}")
            continue
        jql = f"project = {jql_string(settings.project.key)} AND status = {jql_string(source)}"
        sample = next(iter(client.search(jql, ["status"], page_size=1)), None)
        if sample is None:
            yield Finding("skip", what, f"not checked: this site has no workflow API and no ticket is in {source!r} now")
            continue
        offered = client.transitions(sample["key"])
        found = any((tr.get("to") or {}).get("name") == target and (name is None or tr.get("name") == name) for tr in offered)
        names = ", ".join(f"{tr.get('name')} -> {(tr.get('to') or {}).get('name')}" for tr in offered)
        yield _check(found, f"{what} is offered (seen on {sample['key']})", f"add it to the workflow, or set {setting} to one of: {names or 'none'}")


def _project_workflows(client: JiraClient, project_id: str) -> list[tuple[dict[str, str], list[dict]]] | None:
    """[(status names by id, transitions)] of each workflow the project uses; None without the API."""
    try:
        schemes = client.call("GET", client.api("workflowscheme/project"), params={"projectId": project_id}).get("values") or []
    except JiraError as error:
        if error.status in (403, 404):
            return None
        raise
    names: set[str] = set()
    for association in schemes:
        scheme = association.get("workflowScheme") or {}
        names.update((scheme.get("issueTypeMappings") or {}).values())
        if scheme.get("defaultWorkflow"):
            names.add(scheme["defaultWorkflow"])
    if not names:
        return None
    found = client.call("GET", client.api("workflow/search"), params={"workflowName": sorted(names), "expand": "transitions,statuses"})
    return [({st["id"]: st["name"] for st in w.get("statuses") or []}, w.get("transitions") or []) for w in found.get("values") or []]


def _organisations(client: JiraClient, settings: Settings) -> Iterator[Finding]:
    if not settings.organisations:
        return
    existing = {o.get("name") for o in paged_values(client, "rest/servicedeskapi/organization")}
    for name in settings.organisations:
        yield _check(name in existing, f"organisations.{name} exists in JSM",
                     "write the organisation's name exactly as JSM shows it (Customers > Organizations)")


def _security_levels(client: JiraClient, settings: Settings) -> Iterator[Finding]:
    if not settings.regions:
        return
    levels = {lv.get("id"): lv.get("name") for lv in client.call("GET", client.api(f"project/{settings.project.key}/securitylevel")).get("levels") or []}
    for region, level in ((name, r.security_level) for name, r in settings.regions.items() if r.security_level):
        yield _check(level in levels, f"regions.{region}: issue security level {level} exists" + (f" ({levels[level]})" if level in levels else ""),
                     f"set regions.{region} to one of the project's levels: "
                     + (", ".join(f"{i} ({n})" for i, n in levels.items()) or "none (give the project an issue security scheme)"))


def _request_type(client: JiraClient, settings: Settings) -> Iterator[Finding]:
    """Delivery tickets are customer requests of `deliveries.request_type`."""
    try:
        request_type_id(client, settings, service_desk_id(client, settings))
    except DeliveryRequestError as missing:
        yield Finding("FAIL", f"deliveries.request_type: {settings.deliveries.request_type!r} exists in the service desk",
                      f"{missing.problem}; create it (Project settings > Request types) or name an existing one")
        return
    yield Finding("ok", f"deliveries.request_type: {settings.deliveries.request_type!r} exists in the service desk")


def _webhook(client: JiraClient, settings: Settings, environ) -> Iterator[Finding]:
    public_url = (environ.get(PUBLIC_URL_ENVIRONMENT_VARIABLE) or "").rstrip("/")
    target = f"{public_url}{RECEIVER_PATH}" if public_url else f"${PUBLIC_URL_ENVIRONMENT_VARIABLE}{RECEIVER_PATH}"
    try:
        admin = WebhookAdmin(client)
        hooks = admin.of_project(settings)
    except JiraError as error:
        yield Finding("FAIL", f"webhooks can be listed (Jira answered {error.status})", "the automation account needs the Jira administrator permission")
        return
    if not hooks:
        yield Finding("FAIL", f"a webhook for project {settings.project.key} pointing at {target} is registered",
                      f"run: jsm-autopilot webhook register --url {target}")
        return
    if len(hooks) > 1:
        yield Finding("FAIL", f"one webhook delivers project {settings.project.key}'s events (found {len(hooks)}: ids "
                              f"{', '.join(h.id for h in hooks)}); each event would arrive {len(hooks)} times",
                      f"keep one: jsm-autopilot webhook delete {hooks[-1].id}")
    hook = hooks[0]
    if public_url:
        yield _check(hook.url == target, f"webhook {hook.name!r} points at {target}", f"run: jsm-autopilot webhook register --url {target}")
    else:
        yield Finding("skip", f"webhook {hook.name!r} -> {hook.url} is where serve listens",
                      f"set {PUBLIC_URL_ENVIRONMENT_VARIABLE} so that doctor can compare")
    missing = [e for e in WEBHOOK_EVENTS if e not in hook.events]
    yield _check(not missing and hook.enabled, f"webhook {hook.name!r} is enabled and sends {', '.join(WEBHOOK_EVENTS)}",
                 f"run: jsm-autopilot webhook register --url {hook.url}")
    if client.deployment != "cloud" and not admin.data_center_10 and not settings.webhooks.allow_unsigned:
        yield Finding("warn", "this Data Center site is older than 10 and cannot sign webhooks",
                      "set webhooks.allow_unsigned: true, or serve refuses its deliveries")
