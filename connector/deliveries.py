"""Delivery tickets against Jira: find or create one, gather what it concerns, apply the rules.

All three ways of starting a delivery (the CLI, `POST /api/deliveries`, a release manager creating
the ticket in Jira) end in `apply_delivery`: read the Delivery ticket, the organisation's tickets
in Delivery Pending and the tickets it links to, let the core decide (rules/deliveries.py), and
apply the actions ticket by ticket through the executor, each ticket held by the guard.

Creating twice must leave one ticket. Jira has no unique constraint and its search index lags
behind writes (JIRA-CONTRACT.md 3.3), so creation runs under a lease per organisation and
version in the service's store, and the store remembers which ticket was created for them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient, paged_values
from jsm_autopilot.connector.documents import document
from jsm_autopilot.connector.executor import Executor, FiringOutcome
from jsm_autopilot.connector.holds import Guard, NoGuard
from jsm_autopilot.connector.jql import jql_string
from jsm_autopilot.connector.mapping import adf_to_text, fields_to_read, firing_log
from jsm_autopilot.connector.reading import read_issue, read_ticket, ticket_of
from jsm_autopilot.errors import DeliveryRequestError, DeliveryUncertain, JiraAmbiguous, JiraRefused
from jsm_autopilot.rules.actions import Action, IssueLinkChange, due_now, firings_of
from jsm_autopilot.rules.deliveries import DeliveryView, delivery_version, evaluate_delivery, included, is_delivery, is_patch_version
from jsm_autopilot.rules.model import Ticket

log = logging.getLogger("jsm_autopilot.deliveries")
ProgressListener = Callable[[int, int], None]  # (tickets done, tickets in all)


MAX_DOCS = 20
# An estimated date further ahead than this is a typing error, not a plan.
LATEST_ESTIMATE = timedelta(days=5 * 366)


def estimated_date_problem(wanted: date | None, today: date, current: date | None = None) -> str | None:
    """Why an estimated date cannot be written, if it cannot: in the past (unless it is the date
    the ticket already has), or years ahead. `today` is Jira's, in the project's zone."""
    if wanted is None or wanted == current:
        return None
    if wanted < today:
        return f"{wanted.isoformat()} is in the past (today is {today.isoformat()})"
    if wanted > today + LATEST_ESTIMATE:
        return f"{wanted.isoformat()} is more than five years ahead"
    return None


class DeliveryRequest(BaseModel):
    """What a release manager asks for, from the CLI's options or the API's JSON body."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    organisation: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=50)
    estimated_date: date | None = None
    docs: tuple[str, ...] = ()
    environment: str | None = Field(default=None, max_length=2000)

    @field_validator("docs")
    @classmethod
    def _web_addresses(cls, docs: tuple[str, ...]) -> tuple[str, ...]:
        if len(docs) > MAX_DOCS:
            raise ValueError(f"at most {MAX_DOCS} documentation links")
        for address in docs:
            if len(address) > 2000 or not re.fullmatch(r"https?://[^\s\"<>]+", address):
                raise ValueError(f"{address[:200]!r} is not an http(s) address (no spaces, quotes or angle brackets)")
        return docs

    @classmethod
    def parse(cls, data: object, settings: Settings) -> "DeliveryRequest":
        """Validate; the first problem becomes a `DeliveryRequestError` naming the field."""
        try:
            request = cls.model_validate(data)
        except ValidationError as invalid:
            first = invalid.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(body)"
            raise DeliveryRequestError(where, first["msg"]) from None
        if not is_patch_version(request.version, settings):
            raise DeliveryRequestError("version", f"{request.version!r} is not a patch version "
                                                  f"(deliveries.version_pattern {settings.deliveries.version_pattern})")
        return request


@dataclass
class DeliveryResult:
    key: str | None
    created: bool
    included: list[str]
    dry_run: bool = False
    actions: list[Action] = field(default_factory=list)
    outcomes: list[FiringOutcome] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [f"{o.issue} {o.rule}: {o.error}" for o in self.outcomes if not o.applied]

    def as_json(self) -> dict:
        return {"key": self.key, "created": self.created, "dry_run": self.dry_run, "included": self.included,
                "actions": [a.as_json() for a in self.actions], "failures": self.failures}


# -- reading -----------------------------------------------------------------------------------

def _search(client: JiraClient, settings: Settings, jql: str) -> Iterable[dict]:
    return client.search(jql, fields_to_read(settings), expand="changelog", properties=[settings.automation.property_key])


def _complete(client: JiraClient, settings: Settings, issue_json: dict) -> tuple[dict, Ticket]:
    return read_ticket(client, settings, issue_json["key"], issue_json)


def _found(client: JiraClient, settings: Settings, jql: str) -> Iterable[tuple[dict, Ticket]]:
    """Each issue the JQL finds, as its JSON and a complete ticket."""
    for issue_json in _search(client, settings, jql):
        yield _complete(client, settings, issue_json)


def _project_clause(settings: Settings) -> str:
    return f"project = {jql_string(settings.project.key)}"


def deliveries_jql(settings: Settings, organisation: str, statuses: Iterable[str] = ()) -> str:
    """Delivery tickets of one organisation; names are quoted data, never JQL."""
    jql = (f"{_project_clause(settings)} AND issuetype = {jql_string(settings.issue_types.delivery)} "
           f"AND organizations = {jql_string(organisation)}")
    listed = list(statuses)
    if listed:
        jql += f" AND status IN ({', '.join(jql_string(s) for s in listed)})"
    return jql + " ORDER BY created ASC"


def find_deliveries(client: JiraClient, settings: Settings, organisation: str, version: str) -> list[dict]:
    """The organisation's Delivery tickets for exactly this version, oldest first. The version is
    compared here, not in JQL: on a text field JQL only offers fuzzy `~`."""
    return [issue_json for issue_json, ticket in _found(client, settings, deliveries_jql(settings, organisation))
            if ticket.organisation == organisation and delivery_version(ticket, settings) == version]


def load_view(client: JiraClient, settings: Settings, delivery_json: dict) -> tuple[DeliveryView, dict[str, dict]]:
    """The Delivery ticket with the organisation's Delivery Pending tickets and its linked tickets;
    also each ticket's JSON by key (the executor needs each one's firing log)."""
    raw: dict[str, dict] = {}
    delivery_json, delivery = _complete(client, settings, delivery_json)
    raw[delivery.key] = delivery_json
    pending: list[Ticket] = []
    if delivery.organisation is not None:
        for issue_json, ticket in _found(client, settings, _pending_jql(settings, delivery.organisation)):
            raw[ticket.key] = issue_json
            pending.append(ticket)
    by_key = {t.key: t for t in pending}
    wanted = [link.other for link in delivery.links if link.type == settings.deliveries.link_type]
    missing = [key for key in dict.fromkeys(wanted) if key not in by_key]
    for start in range(0, len(missing), 50):
        chunk = missing[start:start + 50]
        for issue_json, ticket in _found(client, settings, f"key IN ({', '.join(jql_string(k) for k in chunk)})"):
            raw[ticket.key] = issue_json
            by_key[ticket.key] = ticket
    linked = tuple(by_key[k] for k in dict.fromkeys(wanted) if k in by_key)
    return DeliveryView(delivery, tuple(pending), linked), raw


# -- applying ----------------------------------------------------------------------------------

def apply_delivery(client: JiraClient, settings: Settings, executor: Executor, delivery_key: str, now: datetime,
                   guard: Guard | None = None, dry_run: bool = False, progress: ProgressListener | None = None,
                   on_firing: Callable[[list[Action], FiringOutcome | None], None] | None = None,
                   ) -> tuple[DeliveryView, list[Action], list[FiringOutcome]]:
    """Decide on one Delivery ticket and apply it. The Delivery ticket is held throughout, so two
    actors never decide on it at once; each included ticket is held and read afresh before it is
    written, so its firing log is current. One ticket's failure does not stop the others.
    `progress` hears (done, all) per ticket touched: a linked or unlinked one, or one resolved."""
    guard = guard or NoGuard()
    listener = on_firing or (lambda actions, outcome: None)
    with guard.hold(delivery_key) as held_delivery:
        view, raw = load_view(client, settings, read_issue(client, settings, delivery_key))
        actions = due_now(evaluate_delivery(view, now, settings))
        by_issue: dict[str, list[Action]] = {}
        for action in actions:
            by_issue.setdefault(action.issue, []).append(action)
        steps = _Steps(progress, sum(1 for a in actions if isinstance(a, IssueLinkChange)) + len(by_issue.keys() - {delivery_key}))
        outcomes: list[FiringOutcome] = []
        for key, group in by_issue.items():
            if dry_run:
                for rule_group in firings_of(group).values():
                    listener(rule_group, None)
                steps.advance(sum(1 for a in group if isinstance(a, IssueLinkChange)) + (key != delivery_key))
            elif key == delivery_key:
                outcomes += _apply(executor, settings, view.delivery, raw[key], group, now, held_delivery, listener, steps)
            else:
                with guard.hold(key) as held:
                    fresh_json = read_issue(client, settings, key)
                    fresh = ticket_of(client, settings, fresh_json)
                    again = replace(view, pending=_swap(view.pending, fresh), linked=_swap(view.linked, fresh))
                    group = [a for a in due_now(evaluate_delivery(again, now, settings)) if a.issue == key]
                    outcomes += _apply(executor, settings, fresh, fresh_json, group, now, held, listener, steps)
                steps.advance(1)
    return view, actions, outcomes


@dataclass
class _Steps:
    listener: ProgressListener | None
    total: int
    done: int = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self.listener is not None and count:
            self.listener(min(self.done, self.total), self.total)


def _swap(tickets: tuple[Ticket, ...], fresh: Ticket) -> tuple[Ticket, ...]:
    return tuple(fresh if t.key == fresh.key else t for t in tickets)


def _apply(executor: Executor, settings: Settings, ticket: Ticket, issue_json: dict, actions: list[Action], now: datetime,
           held, listener, steps: _Steps) -> list[FiringOutcome]:
    if not actions:
        return []
    applied = executor.apply(ticket, firing_log(issue_json, settings), actions, now, on_link=lambda link: steps.advance())
    if any(o.applied for o in applied):
        held.wrote(datetime.now(timezone.utc))
    firings = firings_of(actions)
    for outcome in applied:
        listener(firings[outcome.rule], outcome)
    return applied


# -- creating ----------------------------------------------------------------------------------


# Recorded while a creation's outcome is unknown (Jira's answer was lost).
UNCERTAIN = "?"


class DeliveryRegistry:
    """Which ticket was created for an organisation and version, and the lease around creating.
    Backed by the service's store, so the CLI, the API and every replica share it."""

    def __init__(self, store, guard: Guard, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 index_lag: timedelta = timedelta(minutes=2)):
        # `store` offers delivery_record and remember_delivery (store/event_store.py); `guard` holds names.
        self.store = store
        self.guard = guard
        self.clock = clock
        # How long after a creation Jira's search is trusted to show the new ticket.
        self.index_lag = index_lag

    @staticmethod
    def name(organisation: str, version: str) -> str:
        digest = hashlib.sha256(f"{organisation}\n{version}".encode()).hexdigest()[:24]
        return f"delivery:{digest}"

    def hold(self, organisation: str, version: str):
        return self.guard.hold(self.name(organisation, version))

    def recorded(self, organisation: str, version: str) -> tuple[str | None, datetime] | None:
        return self.store.delivery_record(self.name(organisation, version))

    def record(self, organisation: str, version: str, key: str | None) -> None:
        self.store.remember_delivery(self.name(organisation, version), key, self.clock())


def organisation_id(client: JiraClient, name: str) -> str:
    """The JSM organisation's id (the Organizations field takes ids); refused when unknown."""
    for organisation in paged_values(client, "rest/servicedeskapi/organization"):
        if organisation.get("name") == name:
            return str(organisation["id"])
    raise DeliveryRequestError("organisation", f"no JSM organisation is named {name!r}")


def service_desk_id(client: JiraClient, settings: Settings) -> str:
    """The id of the project's service desk (servicedeskapi addresses desks, not projects)."""
    for desk in paged_values(client, "rest/servicedeskapi/servicedesk"):
        if desk.get("projectKey") == settings.project.key:
            return str(desk["id"])
    raise DeliveryRequestError("project.key", f"{settings.project.key} is not a service project of this site")


def request_type_id(client: JiraClient, settings: Settings, desk_id: str) -> str:
    """The id of `deliveries.request_type` in the service desk; refused, with the names there are, when missing."""
    wanted = settings.deliveries.request_type
    names = []
    for request_type in paged_values(client, f"rest/servicedeskapi/servicedesk/{desk_id}/requesttype", {"searchQuery": wanted}):
        if request_type.get("name") == wanted:
            return str(request_type["id"])
        names.append(str(request_type.get("name")))
    raise DeliveryRequestError("deliveries.request_type", f"the service desk has no request type {wanted!r}"
                                                          + (f" (similar: {', '.join(names)})" if names else ""))


def _request_fields(request: DeliveryRequest, settings: Settings, api_version: str) -> dict:
    """The fields a request sets on the Delivery ticket (besides type, summary and organisation)."""
    fields: dict = {settings.fields.delivery_version: request.version}
    if request.estimated_date is not None:
        fields[settings.fields.estimated_delivery_date] = request.estimated_date.isoformat()
    if request.docs:
        if settings.fields.documentation_links is None:
            raise DeliveryRequestError("docs", "set fields.documentation_links in app.yaml to record documentation links")
        fields[settings.fields.documentation_links] = document("\n".join(request.docs), api_version)
    if request.environment:
        fields[settings.fields.environment] = document(request.environment, api_version)
    return fields


def _changed_fields(request: DeliveryRequest, settings: Settings, api_version: str, ticket: Ticket) -> dict:
    """Of the request's fields, those that differ from what the ticket holds."""
    wanted = _request_fields(request, settings, api_version)
    names = {field_id: name for name, field_id in settings.fields.model_dump().items() if field_id}
    changed = {}
    for field_id, value in wanted.items():
        current = ticket.custom_fields.get(names.get(field_id, field_id))
        same = (adf_to_text(current).strip() == adf_to_text(value).strip()) if isinstance(value, (dict, str)) else current == value
        if not same:
            changed[field_id] = value
    return changed


def create_or_update(client: JiraClient, settings: Settings, executor: Executor, registry: DeliveryRegistry,
                     request: DeliveryRequest, now: datetime | None = None, guard: Guard | None = None,
                     dry_run: bool = False, progress: ProgressListener | None = None, on_firing=None) -> DeliveryResult:
    """The Delivery ticket of `request.version` for `request.organisation`: created when there is
    none, else updated; either way filled in by the delivery rules. One per organisation and
    version, however many callers race."""
    organisation, version = request.organisation, request.version
    org_id = organisation_id(client, organisation)
    with registry.hold(organisation, version):
        existing = _existing(client, settings, registry, organisation, version)
        now = now or client.server_time()
        today = now.astimezone(settings.project.zone).date()
        existing_ticket = _complete(client, settings, existing)[1] if existing is not None else None
        current = _parse_day(existing_ticket.custom_fields.get("estimated_delivery_date")) if existing_ticket else None
        problem = estimated_date_problem(request.estimated_date, today, current)
        if problem is not None:
            raise DeliveryRequestError("estimated_date", problem)
        if existing is None and dry_run:
            ticket = Ticket(key="(new)", type=settings.issue_types.delivery, status=settings.statuses.planned,
                            status_since=now, created=now, organisation=organisation,
                            language=settings.language_of(organisation), custom_fields={"delivery_version": version})
            view = DeliveryView(ticket, tuple(_pending_of(client, settings, organisation)))
            actions = evaluate_delivery(view, now, settings)
            return DeliveryResult(None, True, [t.key for t in included(view, settings)], True, actions)
        created = existing is None
        if existing is None:
            # A customer request of the Delivery request type, shared with the organisation: its
            # contacts find it on the portal and hear of its public comments (PROCESS.md). The
            # request form takes the summary only; the automation's own fields are set after.
            desk = service_desk_id(client, settings)
            body = {"serviceDeskId": desk, "requestTypeId": request_type_id(client, settings, desk),
                    "requestFieldValues": {"summary": settings.texts.render(settings.language_of(organisation),
                                                                            "delivery_summary", version=version)}}
            try:
                answer = client.call("POST", "rest/servicedeskapi/request", body=body)
            except JiraAmbiguous as lost:
                registry.record(organisation, version, UNCERTAIN)
                raise DeliveryUncertain(f"creating the Delivery ticket failed in a way that may have created it ({lost}); "
                                        f"run again in {int(registry.index_lag.total_seconds())} s: it will find that ticket "
                                        f"or create one", int(registry.index_lag.total_seconds())) from lost
            key = answer["issueKey"]
            registry.record(organisation, version, key)
            log.info("%s created: Delivery of %s for %s", key, version, organisation, extra={"issue": key})
            client.edit(key, {"fields": {settings.fields.organizations: [_organisation_value(org_id)],
                                         **_request_fields(request, settings, client.version)}})
        else:
            key = existing["key"]
            assert existing_ticket is not None  # read above, with `existing`
            changes = {} if dry_run else _changed_fields(request, settings, client.version, existing_ticket)
            if not dry_run and existing_ticket.organisation != organisation:
                # A creation whose follow-up edit failed: share it with the organisation now.
                changes[settings.fields.organizations] = [_organisation_value(org_id)]
            if changes:
                client.edit(key, {"fields": changes})
        view, actions, outcomes = apply_delivery(client, settings, executor, key, now, guard, dry_run, progress, on_firing)
        return DeliveryResult(key, created, [t.key for t in included(view, settings)], dry_run, actions, outcomes)


def _parse_day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Waiting:
    """Tickets in Delivery Pending for one organisation and Delivery version (or CUSTOM)."""

    organisation: str
    version: str
    keys: tuple[str, ...]


def waiting_for_delivery(client: JiraClient, settings: Settings) -> list[Waiting]:
    """What waits to be delivered, by organisation and version, as a release manager chooses from."""
    grouped: dict[tuple[str, str], list[str]] = {}
    jql = f"{_project_clause(settings)} AND status = {jql_string(settings.statuses.delivery_pending)} ORDER BY key ASC"
    for _, ticket in _found(client, settings, jql):
        version = ticket.custom_fields.get("delivery_version")
        if ticket.organisation and isinstance(version, str) and version.strip() and not is_delivery(ticket, settings):
            grouped.setdefault((ticket.organisation, version.strip()), []).append(ticket.key)
    return [Waiting(org, version, tuple(keys)) for (org, version), keys in sorted(grouped.items())]


def open_deliveries(client: JiraClient, settings: Settings) -> list[Ticket]:
    """Delivery tickets not yet delivered or installed, oldest first."""
    statuses = settings.statuses
    done = ", ".join(jql_string(s) for s in (statuses.delivered, statuses.stage_installation_completed,
                                              statuses.installation_completed, statuses.resolved, statuses.closed))
    jql = (f"{_project_clause(settings)} AND issuetype = {jql_string(settings.issue_types.delivery)} "
           f"AND status NOT IN ({done}) ORDER BY created ASC")
    return [ticket for _, ticket in _found(client, settings, jql)]


def _organisation_value(org_id: str) -> int | str:
    return int(org_id) if org_id.isdigit() else org_id


def _pending_jql(settings: Settings, organisation: str) -> str:
    return (f"{_project_clause(settings)} AND status = {jql_string(settings.statuses.delivery_pending)} "
            f"AND organizations = {jql_string(organisation)} ORDER BY key ASC")


def _pending_of(client: JiraClient, settings: Settings, organisation: str) -> list[Ticket]:
    return [ticket for _, ticket in _found(client, settings, _pending_jql(settings, organisation))]


def _existing(client: JiraClient, settings: Settings, registry: DeliveryRegistry, organisation: str, version: str) -> dict | None:
    """The Delivery ticket already there: the one this service recorded, else the oldest Jira finds."""
    record = registry.recorded(organisation, version)
    recorded = record[0] if record else None
    if recorded == UNCERTAIN:
        found = find_deliveries(client, settings, organisation, version) or _unshared(client, settings, organisation, version)
        if found:
            registry.record(organisation, version, found[0]["key"])
            return found[0]
        assert record is not None  # recorded is UNCERTAIN only from a record
        waited = registry.clock() - record[1]
        if waited < registry.index_lag:
            left = int((registry.index_lag - waited).total_seconds()) + 1
            raise DeliveryUncertain(f"an earlier attempt to create this Delivery ticket may have landed and Jira's search "
                                    f"does not show it yet; run again in {left} s", left)
        registry.record(organisation, version, None)  # long enough: it did not land
        return None
    if recorded:
        try:
            return read_issue(client, settings, recorded)
        except JiraRefused as refused:
            if refused.status != 404:
                raise
            registry.record(organisation, version, None)  # deleted in Jira: look again
    found = find_deliveries(client, settings, organisation, version)
    if found:
        registry.record(organisation, version, found[0]["key"])
        return found[0]
    return None


def _unshared(client: JiraClient, settings: Settings, organisation: str, version: str) -> list[dict]:
    """Delivery tickets the automation created but did not yet share with an organisation (the
    answer to the creation was lost before the follow-up edit): same summary, no version yet."""
    summary = settings.texts.render(settings.language_of(organisation), "delivery_summary", version=version)
    jql = (f"{_project_clause(settings)} AND issuetype = {jql_string(settings.issue_types.delivery)} AND organizations IS EMPTY "
           f"AND reporter = {jql_string(settings.automation.account)} ORDER BY created ASC")
    return [issue_json for issue_json, ticket in _found(client, settings, jql)
            if ticket.summary == summary and not ticket.custom_fields.get("delivery_version")]


# -- what a change of one ticket means for deliveries -------------------------------------------

def deliveries_to_refresh(client: JiraClient, settings: Settings, ticket: Ticket) -> list[dict]:
    """The Planned Delivery tickets a change of `ticket` may concern: those of its organisation,
    when it is in Delivery Pending now or is linked to a Delivery ticket (it may have left)."""
    if is_delivery(ticket, settings) or ticket.organisation is None:
        return []
    in_pending = ticket.status == settings.statuses.delivery_pending
    linked = any(link.type == settings.deliveries.link_type and link.other_type == settings.issue_types.delivery
                 for link in ticket.links)
    if not (in_pending or linked):
        return []
    return list(_search(client, settings, deliveries_jql(settings, ticket.organisation, [settings.statuses.planned])))


def deliveries_jql_to_sweep(settings: Settings, now: datetime) -> str:
    """Planned Delivery tickets, and those done or staged lately (their included tickets may still
    wait for `delivery.done`). Dates in JQL are the site's local time."""
    statuses = settings.statuses
    since = (now - settings.deliveries.window.nominal).astimezone(settings.project.zone).strftime("%Y-%m-%d %H:%M")
    finished = ", ".join(jql_string(s) for s in (statuses.stage_installation_completed, statuses.delivered,
                                                 statuses.installation_completed))
    return (f"{_project_clause(settings)} AND issuetype = {jql_string(settings.issue_types.delivery)} AND "
            f"(status = {jql_string(statuses.planned)} OR (status IN ({finished}) AND updated >= {jql_string(since)})) "
            f"ORDER BY key ASC")
