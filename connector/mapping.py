"""Jira's JSON to the core's `Ticket`: pure functions, no HTTP.

Two sources: an issue from `POST /rest/api/3/search/jql` (or `GET /issue/{key}`) with
`expand=changelog`, and the issue inside a webhook payload. Jira Cloud sends ADF bodies on v3 and
wiki strings on v2 and in webhooks; users carry `accountId` on Cloud and `name`/`key` on Data Center.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Mapping, overload

from jsm_autopilot.connector.replies import written_now
from jsm_autopilot.errors import IssueMappingError
from jsm_autopilot.rules.actions import rule_named_in_audit_note
from jsm_autopilot.rules.model import Comment, FieldHistory, Firing, Link, Role, Ticket

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

# JSM stores "internal or public" of a comment in this comment property (Cloud and Data Center).
JSM_PUBLIC_COMMENT_PROPERTY = "sd.public.comment"


def fields_to_read(settings: "Settings") -> list[str]:
    """Every field the mapping needs, for searches and issue reads."""
    custom = [v for v in settings.fields.model_dump().values() if v]
    return ["summary", "description", "issuetype", "status", "priority", "created", "updated", "resolutiondate", "reporter",
            "comment", "security", "issuelinks", *custom]


def parse_jira_datetime(value: object, issue: str, field: str) -> datetime:
    """Jira writes `2019-08-27T12:43:24.193-0700`; Python 3.11's fromisoformat reads it."""
    if not isinstance(value, str):
        raise IssueMappingError(issue, field, f"expected a date-time string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise IssueMappingError(issue, field, f"not a date-time: {value!r}") from None
    if parsed.tzinfo is None:
        raise IssueMappingError(issue, field, f"date-time without a time zone: {value!r}")
    return parsed


def user_identity(user: object) -> str | None:
    """accountId on Cloud; the user name on Data Center (what admins write in app.yaml)."""
    if not isinstance(user, Mapping):
        return None
    for attribute in ("accountId", "name", "key"):
        value = user.get(attribute)
        if isinstance(value, str) and value:
            return value
    return None


def adf_to_text(node: object) -> str:
    """Plain text of an Atlassian Document Format body (or a wiki/plain string as it is)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_to_text(child) for child in node)
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji"):
        return str((node.get("attrs") or {}).get("text", ""))
    inner = adf_to_text(node.get("content", []))
    if kind == "blockquote":
        # A quote stays a quote ("> "): the quoted thread of a reply is not what its author says now.
        return "".join(f"> {line}\n" for line in inner.splitlines())
    if kind in ("paragraph", "heading", "listItem", "codeBlock", "tableRow"):
        return inner + "\n"
    return inner


def _properties_of(container: Mapping[str, Any]) -> dict[str | None, Any]:
    """Entity properties as Jira returns them: a list of {key, value} or a {key: value} map.
    (A None key holds an entry that had no key; Jira always gives one, and no caller asks for None.)"""
    raw = container.get("properties")
    if isinstance(raw, list):
        return {p.get("key"): p.get("value") for p in raw if isinstance(p, Mapping)}
    if isinstance(raw, Mapping):
        return dict(raw)
    return {}


def is_public_comment(comment: Mapping[str, Any]) -> bool:
    """Cloud says so in `jsdPublic`; Data Center only in the `sd.public.comment` property. A comment
    restricted to a role or group (`visibility`) is internal whatever `jsdPublic` says: Jira keeps
    the two apart and answers `jsdPublic: true` for it (atlassian/atlassian-mcp-server#139)."""
    visibility = comment.get("visibility")
    if isinstance(visibility, Mapping) and (visibility.get("value") or visibility.get("identifier")):
        return False
    if isinstance(comment.get("jsdPublic"), bool):
        return comment["jsdPublic"]
    marker = _properties_of(comment).get(JSM_PUBLIC_COMMENT_PROPERTY)
    if isinstance(marker, Mapping) and marker.get("internal") is True:
        return False
    return True


@dataclass(frozen=True)
class People:
    """What the issue alone does not tell of its commenters, read from Jira (connector/people.py):
    which are agents of the project, and which belong to the ticket's organisations."""

    agents: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()


def _role_of(author: str | None, reporter: str | None, participants: frozenset[str], settings: "Settings",
             account_type: object = None, people: People = People()) -> Role:
    """The customer is the reporter, a participant, a member of the organisation or a portal-only
    account (`accountType: customer`), unless the account is an agent of the project: customers
    may have Atlassian accounts too, so `accountType` alone never decides. Other apps' accounts
    (`accountType: app`, e.g. Automation for Jira) are neither customer nor agent (PROCESS.md)."""
    if author is not None and author == settings.automation.account:
        return Role.AUTOMATION
    if account_type == "app":
        return Role.APP
    if author is not None and author in people.agents:
        return Role.AGENT
    if author is not None and (author == reporter or author in participants or author in people.members or account_type == "customer"):
        return Role.CUSTOMER
    return Role.AGENT


def _automation_rule(comment: Mapping[str, Any], body: str, public: bool, settings: "Settings") -> str | None:
    """Which rule the automation wrote this comment for: its own comment property when Jira
    returned it, else the audit note's first words. For display; the firing log decides."""
    own = _properties_of(comment).get(settings.automation.property_key)
    if isinstance(own, Mapping) and isinstance(own.get("rule"), str):
        return own["rule"]
    if not public:
        return rule_named_in_audit_note(body.strip())
    return None


def firing_log(issue: Mapping[str, Any], settings: "Settings") -> Mapping[str, Any]:
    """The automation's own issue property, `{"firings": [{"id", "rule", "at", "stage"?}, ...]}`."""
    value = _properties_of(issue).get(settings.automation.property_key)
    return value if isinstance(value, Mapping) else {}


def firings_of(issue: Mapping[str, Any], settings: "Settings") -> tuple[Firing, ...]:
    """The automation's firing log of an issue as read by a search with its property."""
    return _firings(issue, str(issue.get("key")), settings)


def _firings(issue: Mapping[str, Any], key: str, settings: "Settings") -> tuple[Firing, ...]:
    raw = firing_log(issue, settings).get("firings") or []
    where = f"properties.{settings.automation.property_key}.firings"
    if not isinstance(raw, list):
        raise IssueMappingError(key, where, "expected a list")
    firings = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("rule"), str):
            raise IssueMappingError(key, f"{where}[{index}]", "expected an object with rule and at")
        at = parse_jira_datetime(entry.get("at"), key, f"{where}[{index}].at")
        firings.append(Firing(entry["rule"], at, str(entry.get("id") or ""), str(entry.get("stage") or "")))
    return tuple(firings)


def _comments(
    key: str, raw_comments: list, reporter: str | None, participants: frozenset[str], settings: "Settings",
    people: People = People(),
) -> tuple[Comment, ...]:
    comments = []
    for index, raw in enumerate(raw_comments):
        where = f"fields.comment.comments[{index}]"
        if not isinstance(raw, Mapping):
            raise IssueMappingError(key, where, "expected an object")
        comment_id = str(raw.get("id") or "")
        if not comment_id:
            raise IssueMappingError(key, f"{where}.id", "missing")
        created = parse_jira_datetime(raw.get("created"), key, f"{where}.created")
        author = user_identity(raw.get("author"))
        body = adf_to_text(raw.get("body"))
        public = is_public_comment(raw)
        account_type = raw["author"].get("accountType") if isinstance(raw.get("author"), Mapping) else None
        role = _role_of(author, reporter, participants, settings, account_type, people)
        if role is Role.CUSTOMER:
            body = written_now(body)  # an e-mail reply's quoted thread is not what the customer says now
        if role is Role.CUSTOMER and not public:
            # Customers cannot write internal comments: an internal note by the reporter or a
            # participant is an agent's (one raising a ticket for a customer), never feedback.
            role = Role.AGENT
        rule = _automation_rule(raw, body, public, settings) if role is Role.AUTOMATION else None
        comments.append(Comment(comment_id, author or "", role, public, created, body, rule))
    return tuple(comments)


@overload
def _named(fields: Mapping[str, Any], name: str, key: str, required: Literal[True]) -> str: ...


@overload
def _named(fields: Mapping[str, Any], name: str, key: str, required: bool) -> str | None: ...


def _named(fields: Mapping[str, Any], name: str, key: str, required: bool) -> str | None:
    value = fields.get(name)
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return value["name"]
    if value is None and not required:
        return None
    raise IssueMappingError(key, f"fields.{name}", "missing" if value is None else f"expected an object with a name, got {value!r}")


def _organisation(fields: Mapping[str, Any], settings: "Settings") -> str | None:
    """The first of the issue's JSM organisations that app.yaml knows, else the first at all."""
    raw = fields.get(settings.fields.organizations)
    names = [o.get("name") for o in raw if isinstance(o, Mapping)] if isinstance(raw, list) else []
    names = [n for n in names if isinstance(n, str)]
    for name in names:
        if name in settings.organisations:
            return name
    return names[0] if names else None


def _simple_value(value: object) -> object:
    if isinstance(value, Mapping):
        for attribute in ("value", "name", "key"):
            if attribute in value:
                return value[attribute]
    if isinstance(value, list):
        return tuple(_simple_value(v) for v in value)
    return value


def _custom_fields(fields: Mapping[str, Any], settings: "Settings") -> dict[str, object]:
    wanted = settings.fields.model_dump(exclude={"organizations", "request_participants"})
    return {name: _simple_value(fields.get(field_id)) for name, field_id in wanted.items() if field_id and field_id in fields}


def _status_since(issue: Mapping[str, Any], key: str, created: datetime) -> datetime:
    since = _last_change(issue, key, created, "status")
    assert since is not None  # strict: a changelog cut short raises instead
    return since


def _last_change(issue: Mapping[str, Any], key: str, created: datetime, field_name: str, strict: bool = True) -> datetime | None:
    """When `field_name` last changed according to the changelog; creation if it never did.
    Not strict: None when the changelog page is truncated before any such change (long ago)."""
    changelog = issue.get("changelog")
    if not isinstance(changelog, Mapping):
        raise IssueMappingError(key, "changelog", "missing (search with expand=changelog)")
    histories = changelog.get("histories")
    if not isinstance(histories, list):
        raise IssueMappingError(key, "changelog.histories", "missing")
    latest: datetime | None = None
    for index, history in enumerate(histories):
        items = history.get("items") if isinstance(history, Mapping) else None
        if not isinstance(items, list) or not any(isinstance(i, Mapping) and i.get("field") == field_name for i in items):
            continue
        when = parse_jira_datetime(history.get("created"), key, f"changelog.histories[{index}].created")
        if latest is None or when > latest:
            latest = when
    if latest is not None:
        return latest
    total = changelog.get("total")
    if isinstance(total, int) and total > len(histories):
        if not strict:
            return None
        # Jira returns only the newest page of histories inline; the status change is older.
        raise IssueMappingError(key, "changelog", f"holds {len(histories)} of {total} histories and no {field_name} change; fetch the full changelog")
    return created


def _links(fields: Mapping[str, Any]) -> tuple[Link, ...]:
    """`issuelinks` as Jira shows it on an issue: each link names only the other end."""
    raw = fields.get("issuelinks")
    links = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, Mapping):
            continue
        other = entry.get("outwardIssue") or entry.get("inwardIssue")
        link_type = (entry.get("type") or {}).get("name") if isinstance(entry.get("type"), Mapping) else None
        if not isinstance(other, Mapping) or not isinstance(other.get("key"), str) or not isinstance(link_type, str):
            continue
        raw_fields = other.get("fields")
        other_fields = raw_fields if isinstance(raw_fields, Mapping) else {}
        other_type = (other_fields.get("issuetype") or {}).get("name") if isinstance(other_fields.get("issuetype"), Mapping) else None
        links.append(Link(str(entry.get("id") or ""), other["key"], link_type, other_type))
    return tuple(links)


def _field_changes(issue: Mapping[str, Any], key: str, settings: "Settings") -> tuple[FieldHistory, ...]:
    """Changes of the fields app.yaml names and of the status, from the expanded changelog. The raw value (`from`,
    `to`) where Jira gives one (a date as 2026-12-01), else the display string."""
    names = {field_id: name for name, field_id in settings.fields.model_dump().items() if field_id}
    histories = (issue.get("changelog") or {}).get("histories") if isinstance(issue.get("changelog"), Mapping) else None
    changes = []
    for index, history in enumerate(histories if isinstance(histories, list) else []):
        items = history.get("items") if isinstance(history, Mapping) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping):
                continue
            # Status changes by name too: the SLA clocks pause in some statuses.
            name = "status" if item.get("field") == "status" else names.get(item.get("fieldId")) or names.get(item.get("field"))
            if name is None:
                continue
            at = parse_jira_datetime(history.get("created"), key, f"changelog.histories[{index}].created")
            if name == "status":
                changes.append(FieldHistory("status", item.get("fromString"), item.get("toString"), at))
                continue
            old = item.get("from") if item.get("from") is not None else item.get("fromString")
            new = item.get("to") if item.get("to") is not None else item.get("toString")
            changes.append(FieldHistory(name, None if old is None else str(old), None if new is None else str(new), at))
    return tuple(changes)


def _participants(fields: Mapping[str, Any], settings: "Settings") -> frozenset[str]:
    raw = fields.get(settings.fields.request_participants) or []
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(filter(None, (user_identity(u) for u in raw)))


def _ticket(
    issue: Mapping[str, Any], key: str, fields: Mapping[str, Any], raw_comments: list,
    status_since: datetime | None, created: datetime | None, complete: bool, settings: "Settings",
    people: People = People(),
) -> Ticket:
    reporter = user_identity(fields.get("reporter"))
    participants = _participants(fields, settings)
    organisation = _organisation(fields, settings)
    resolved_raw = fields.get("resolutiondate")
    summary = fields.get("summary")
    return Ticket(
        key=key,
        type=_named(fields, "issuetype", key, required=True),
        status=_named(fields, "status", key, required=True),
        status_since=status_since,
        created=created,
        priority=_named(fields, "priority", key, required=False),
        organisation=organisation,
        language=settings.language_of(organisation),
        resolved=parse_jira_datetime(resolved_raw, key, "fields.resolutiondate") if resolved_raw else None,
        reporter=reporter,
        participants=participants,
        comments=_comments(key, raw_comments, reporter, participants, settings, people),
        summary=summary if isinstance(summary, str) else "",
        description=adf_to_text(fields.get("description")).strip(),
        custom_fields=_custom_fields(fields, settings),
        firings=_firings(issue, key, settings),
        security_level=str(fields["security"]["id"]) if isinstance(fields.get("security"), Mapping) and fields["security"].get("id") else None,
        complete=complete,
        links=_links(fields),
    )


def ticket_from_issue_json(issue: object, settings: "Settings", people: People = People()) -> Ticket:
    """A complete snapshot from a search/jql or get-issue result with the changelog expanded;
    `people` tells who among the commenters is an agent or a member of the organisation."""
    if not isinstance(issue, Mapping):
        raise IssueMappingError("(unknown issue)", "(issue)", "expected an object")
    key = issue.get("key")
    if not isinstance(key, str) or not key:
        raise IssueMappingError(f"issue id {issue.get('id', '?')}", "key", "missing")
    fields = issue.get("fields")
    if not isinstance(fields, Mapping):
        raise IssueMappingError(key, "fields", "missing (request the fields the rules need)")
    created = parse_jira_datetime(fields.get("created"), key, "fields.created")
    comment_field = fields.get("comment")
    if not isinstance(comment_field, Mapping) or not isinstance(comment_field.get("comments"), list):
        raise IssueMappingError(key, "fields.comment", "missing (request the comment field)")
    raw_comments = comment_field["comments"]
    total = comment_field.get("total")
    if isinstance(total, int) and total > len(raw_comments):
        raise IssueMappingError(key, "fields.comment", f"holds {len(raw_comments)} of {total} comments; fetch them all")
    status_since = _status_since(issue, key, created)
    ticket = _ticket(issue, key, fields, raw_comments, status_since, created, True, settings, people)
    return replace(ticket, type_since=_last_change(issue, key, created, "issuetype", strict=False),
                   field_changes=_field_changes(issue, key, settings))


def _epoch_millis(value: object) -> datetime | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    return None


def ticket_from_webhook(payload: object, settings: "Settings") -> Ticket:
    """A partial snapshot from a webhook payload. Jira trims `issue.fields` in comment events and
    sends no history, so it is marked incomplete: the worker re-reads the issue before deciding."""
    if not isinstance(payload, Mapping):
        raise IssueMappingError("(unknown issue)", "(payload)", "expected an object")
    issue = payload.get("issue")
    if not isinstance(issue, Mapping) or not isinstance(issue.get("key"), str):
        raise IssueMappingError("(unknown issue)", "issue.key", "missing")
    key = issue["key"]
    fields = issue.get("fields")
    if not isinstance(fields, Mapping):
        raise IssueMappingError(key, "issue.fields", "missing")
    event_time = _epoch_millis(payload.get("timestamp"))
    created = parse_jira_datetime(fields["created"], key, "fields.created") if fields.get("created") else None
    changed_status = any(
        isinstance(i, Mapping) and i.get("field") == "status"
        for i in ((payload.get("changelog") or {}).get("items") or [])
    )
    if changed_status:
        status_since = event_time
    elif payload.get("webhookEvent") == "jira:issue_created":
        status_since = created or event_time
    else:
        status_since = None
    raw_comments = list(((fields.get("comment") or {}).get("comments")) or [])
    comment = payload.get("comment")
    if isinstance(comment, Mapping) and payload.get("webhookEvent") != "comment_deleted":
        if not any(isinstance(c, Mapping) and c.get("id") == comment.get("id") for c in raw_comments):
            raw_comments.append(comment)
    return _ticket(issue, key, fields, raw_comments, status_since, created, False, settings)
