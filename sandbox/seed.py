"""Seeding the sandbox from a JSON document, so a test or the demo starts from a realistic project.

{"now": ISO, "users": [{"email", "displayName", "accountType", "accountId", "agent"}],
 "personal_access_tokens": {"<token>": "<email>"}, "organisations": ["Muster AG", ...],
 "issues": [{"type", "summary", "reporter", "organisation", "status", "created", "status_since",
             "priority", "channel" ("email" | "portal"), "request_type" (default: that of its type),
             "custom_fields": {}, "properties": {},
             "comments": [{"author", "body", "created", "public"}]}]}
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from jsm_autopilot.sandbox.state import SandboxError, SandboxState


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class SeedUser(_Part):
    email: str
    displayName: str | None = None
    accountType: str | None = None
    accountId: str | None = None
    agent: bool = False  # an agent of the project (Service Desk Team)


class SeedComment(_Part):
    author: str
    created: str
    body: str = ""
    public: bool = True


class SeedIssue(_Part):
    type: str
    reporter: str
    summary: str | None = None
    description: str = ""
    organisation: str | None = None
    status: str | None = None
    created: str | None = None
    status_since: str | None = None
    priority: str | None = None
    channel: Literal["email", "portal"] = "portal"
    request_type: str | None = None
    agent: str | None = None
    custom_fields: dict = {}
    properties: dict = {}
    comments: list[SeedComment] = []


class SeedDocument(_Part):
    """The shape of a seed document, checked before anything is created, so that a mistake is
    named by its place (`issues.3.reporter: Field required`) rather than met halfway through."""

    now: str | None = None
    users: list[SeedUser] = []
    personal_access_tokens: dict[str, str] = {}
    organisations: list[str] = []
    issues: list[SeedIssue] = []


def check_seed(document: object) -> None:
    try:
        SeedDocument.model_validate(document)
    except ValidationError as error:
        problems = [f"{'.'.join(str(part) for part in e['loc']) or 'the document'}: {e['msg']}" for e in error.errors()[:5]]
        raise SandboxError(400, "; ".join(problems)) from None


def _instant(value: object, where: str) -> datetime:
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        raise SandboxError(400, f"{where}: expected an ISO-8601 date-time") from None
    if instant.tzinfo is None:
        raise SandboxError(400, f"{where}: give a time zone")
    return instant


def apply_seed(state: SandboxState, document: dict) -> list[str]:
    """Create what the document describes; returns the keys of the issues created."""
    check_seed(document)
    unknown = {i.get("organisation") for i in document.get("issues", [])} - {None} - set(document.get("organisations", [])) \
        - {o["name"] for o in state.organisations.values()}
    if unknown:
        raise SandboxError(400, f"issues: organisation {sorted(unknown)[0]!r} is not listed under organisations")
    if "now" in document:
        state.now = _instant(document["now"], "now")
    for user in document.get("users", []):
        made = state.user(user["email"], user.get("displayName"), user.get("accountType"), user.get("accountId"))
        if user.get("agent"):
            state.agents.add(made.account_id)
    state.personal_access_tokens.update(document.get("personal_access_tokens", {}))
    by_name = {o["name"]: o["id"] for o in state.organisations.values()}
    for name in document.get("organisations", []):
        if name not in by_name:
            organisation_id = state.next_id()
            state.organisations[organisation_id] = {"id": organisation_id, "name": name}
            by_name[name] = organisation_id
    clock = state.now
    created_keys = []
    try:
        for index, spec in enumerate(document.get("issues", [])):
            where = f"issues[{index}]"
            state.now = _instant(spec.get("created", clock.isoformat()), f"{where}.created")
            reporter = state.user(spec["reporter"], account_type="customer")
            issue = state.create_issue(reporter, spec["type"], spec.get("summary", "Seeded ticket"),
                                       priority=spec.get("priority"), description=spec.get("description", ""))
            issue.custom_fields.update(spec.get("custom_fields", {}))
            issue.channel = spec.get("channel", "portal")
            # What a customer raised on the portal or by e-mail has the request type of its kind.
            issue.request_type = spec.get("request_type") or next(
                (t["name"] for t in state.request_types.values() if t["issue_type"] == spec["type"]), None)
            if spec.get("organisation"):
                issue.custom_fields[state.organizations_field] = [by_name[spec["organisation"]]]
            issue.properties.update(spec.get("properties", {}))
            events = [(_instant(c["created"], f"{where}.comments"), "comment", c) for c in spec.get("comments", [])]
            if spec.get("status") and spec["status"] != issue.status:
                since = _instant(spec.get("status_since", spec.get("created", clock.isoformat())), f"{where}.status_since")
                events.append((since, "status", spec["status"]))
            for when, kind, payload in sorted(events, key=lambda e: e[0]):
                state.now = when
                if kind == "status":
                    state.move(issue, payload, state.user(spec.get("agent", "agent@sandbox.example")))
                else:
                    author = state.user(payload["author"])
                    public = payload.get("public", True)
                    state.add_comment(issue, author, payload["body"], public, {} if public else {"sd.public.comment": {"internal": True}})
            created_keys.append(issue.key)
    finally:
        state.now = clock
    return created_keys
