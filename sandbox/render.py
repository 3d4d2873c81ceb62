"""Jira's JSON for the sandbox's objects: v3 (Cloud, ADF bodies) and v2 (Data Center, strings).

The sandbox deliberately shares no code with the connector (ADF, dates, users): it stands for the
far end, and a bug in a shared helper would hide in both.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timezone
from typing import Any, Iterable

from jsm_autopilot.sandbox.state import History, SandboxState, StoredComment, StoredIssue, User

SYSTEM_FIELDS = (
    "summary", "issuetype", "status", "priority", "created", "updated", "resolutiondate", "resolution",
    "reporter", "creator", "project", "description", "comment", "issuelinks", "labels", "security",
)


# What Jira Cloud inlines (sandbox/REAL_JIRA.md): changelog entries in a search result
# (40 observed in 2025, openshift-eng/ai-helpers#680; 20 in Adaptavist's notes) and on an issue
# (100: pycontribs/jira#911, atlassian-python-api#1210), and comments in a search result (20,
# Adaptavist's notes on /search/jql).
SEARCH_HISTORIES = 40
ISSUE_HISTORIES = 100
SEARCH_COMMENTS = 20


def jira_time(instant: datetime | None) -> str | None:
    """RFC 3339 as the spec's `date-time` demands. Real Jira writes `+0000`; the spec wins here,
    and the connector reads both."""
    if instant is None:
        return None
    return instant.astimezone(timezone.utc).isoformat(timespec="milliseconds")


# How Jira Cloud writes a mention in wiki markup (the v2 API's comment bodies); kept so in storage.
MENTION = re.compile(r"\[~accountid:([^\]]+)\]")


def _line_nodes(line: str, names: dict[str, str]) -> list[dict]:
    nodes: list[dict] = []
    for index, part in enumerate(MENTION.split(line)):
        if index % 2:
            nodes.append({"type": "mention", "attrs": {"id": part, "text": "@" + names.get(part, "Unknown user"), "accessLevel": ""}})
        elif part:
            nodes.append({"type": "text", "text": part})
    return nodes


def adf(text: str, names: dict[str, str] | None = None) -> dict:
    """Paragraphs at blank lines, hardBreak for single line breaks (how Jira stores typed text),
    mention nodes where the text holds one (`names`: display names by accountId)."""
    content = []
    for paragraph in (p for p in text.split("\n\n") if p) if text else []:
        nodes: list[dict] = []
        for index, line in enumerate(paragraph.split("\n")):
            if index:
                nodes.append({"type": "hardBreak"})
            nodes.extend(_line_nodes(line, names or {}))
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


def text_of(body: Any) -> str:
    """The text of an ADF document or a wiki string, as the sandbox stores bodies."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return "".join(text_of(node) for node in body)
    if isinstance(body, dict):
        kind = body.get("type")
        if kind == "text":
            return str(body.get("text", ""))
        if kind == "hardBreak":
            return "\n"
        if kind == "mention":
            return f"[~accountid:{(body.get('attrs') or {}).get('id', '')}]"
        inner = text_of(body.get("content", []))
        if kind == "doc":
            return inner.strip("\n")
        return inner + "\n\n" if kind in ("paragraph", "heading", "listItem") else inner
    return ""


class Renderer:
    def __init__(self, state: SandboxState, base_url: str, version: str, in_search: bool = False):
        self.state = state
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.in_search = in_search

    def inline_changelog(self, issue: StoredIssue) -> dict:
        """The changelog as Jira Cloud inlines it: a search returns only the newest
        SEARCH_HISTORIES, newest first; the issue itself the newest ISSUE_HISTORIES, oldest first.
        Either way `total` counts them all; the rest is paged from `/issue/{key}/changelog`."""
        everything = issue.histories
        if self.state.deployment != "cloud":
            shown = everything
        elif self.in_search:
            shown = list(reversed(everything))[:SEARCH_HISTORIES]
        else:
            shown = everything[-ISSUE_HISTORIES:]
        start = 0 if self.in_search or self.state.deployment != "cloud" else len(everything) - len(shown)
        return {"startAt": start, "maxResults": len(shown), "total": len(everything), "histories": [self.history(h) for h in shown]}

    @property
    def cloud(self) -> bool:
        return self.version == "3"

    def body(self, text: str) -> Any:
        if not self.cloud:
            return text
        return adf(text, {u.account_id: u.display_name for u in self.state.users_by_email.values()} if "[~accountid:" in text else None)

    def user(self, user: User | None) -> dict | None:
        if user is None:
            return None
        if self.state.deployment == "cloud":
            return {
                "self": f"{self.base_url}/rest/api/{self.version}/user?accountId={user.account_id}",
                "accountId": user.account_id,
                "emailAddress": user.email,
                "displayName": user.display_name,
                "active": True,
                "timeZone": "UTC",
                "accountType": user.account_type,
            }
        return {
            "self": f"{self.base_url}/rest/api/{self.version}/user?username={user.email}",
            "name": user.email,
            "key": f"JIRAUSER{int(user.account_id[:6], 16) % 100000}",
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": True,
            "timeZone": "UTC",
        }

    def status(self, name: str) -> dict:
        status_id = self.state.workflow.status_id(name)
        return {
            "self": f"{self.base_url}/rest/api/{self.version}/status/{status_id}",
            "description": "",
            "iconUrl": f"{self.base_url}/images/icons/statuses/generic.png",
            "name": name,
            "id": status_id,
            "statusCategory": self.state.workflow.category(name),
        }

    def comment(self, issue: StoredIssue, comment: StoredComment, with_properties: bool = False) -> dict:
        author = self.user(comment.author)
        rendered = {
            "self": f"{self.base_url}/rest/api/{self.version}/issue/{issue.id}/comment/{comment.id}",
            "id": str(comment.id),
            "author": author,
            "body": self.body(comment.text),
            "updateAuthor": author,
            "created": jira_time(comment.created),
            "updated": jira_time(comment.created),
        }
        if self.state.deployment == "cloud":
            # Data Center has no jsdPublic: visibility is only the sd.public.comment property
            # (Atlassian, JSM Data Center REST: "Comment visibility" via entity properties).
            rendered["jsdPublic"] = comment.public
        if comment.visibility:
            # Cloud also names it by `identifier` (the role's name, a group's id); Data Center does not.
            shown = dict(comment.visibility)
            if self.state.deployment == "cloud":
                shown.setdefault("identifier", shown.get("value", ""))
            rendered["visibility"] = shown
        if with_properties:
            rendered["properties"] = [{"key": k, "value": v} for k, v in comment.properties.items()]
        return rendered

    def history(self, history: History) -> dict:
        # The spec's ChangeDetails has no nullable members: absent rather than null.
        items = [{k: v for k, v in item.items() if v is not None} for item in history.items]
        return {"id": str(history.id), "author": self.user(history.author), "created": jira_time(history.created), "items": items}

    def _field(self, issue: StoredIssue, name: str) -> Any:
        state = self.state
        if name == "summary":
            return issue.summary
        if name == "issuetype":
            return {"id": str(zlib.crc32(issue.issue_type.encode()) % 10000 + 10000), "name": issue.issue_type, "subtask": False}
        if name == "status":
            return self.status(issue.status)
        if name == "priority":
            return {"name": issue.priority, "id": issue.priority} if issue.priority else None
        if name in ("created", "updated", "resolutiondate"):
            return jira_time(getattr(issue, name))
        if name == "resolution":
            return {"id": "10000", "name": issue.resolution} if issue.resolution else None
        if name in ("reporter", "creator"):
            return self.user(issue.reporter)
        if name == "project":
            project = issue.project or state.project_key
            return {"id": "10000" if project == state.project_key else "10001", "key": project, "name": f"{project} project",
                    "projectTypeKey": "service_desk" if project == state.project_key else "software"}
        if name == "description":
            if self.cloud and issue.description_document is not None:
                return issue.description_document
            return self.body(issue.description) if issue.description else None
        if name == "comment":
            # Search results carry only the first page of comments, with the real total.
            shown = issue.comments[:SEARCH_COMMENTS] if self.in_search else issue.comments
            comments = [self.comment(issue, c) for c in shown]
            return {"comments": comments, "self": f"{self.base_url}/rest/api/{self.version}/issue/{issue.id}/comment",
                    "maxResults": len(comments), "total": len(issue.comments), "startAt": 0}
        if name == "issuelinks":
            return [self.issue_link(link) for link in issue.links if self._linked(link) is not None]
        if name == "labels":
            return []
        if name == "security":
            return issue.custom_fields.get("security")
        if name == "customfield_10010":
            chosen = state.request_type_named(issue.request_type)
            return {"requestType": {"id": chosen, "name": issue.request_type, "serviceDeskId": state.service_desk_id}} if chosen else None
        if name == state.organizations_field:
            ids = issue.custom_fields.get(name) or []
            return [self.organisation(state.organisations[i]) for i in ids if i in state.organisations]
        return issue.custom_fields.get(name)

    def _linked(self, link: dict) -> StoredIssue | None:
        other = link.get("outwardIssue", link.get("inwardIssue"))
        return self.state.issues_by_id.get(other)

    def link_type(self, name: str) -> dict:
        if name == "Relates":
            return {"id": "10003", "name": name, "inward": "relates to", "outward": "relates to",
                    "self": f"{self.base_url}/rest/api/{self.version}/issueLinkType/10003"}
        type_id = str(zlib.crc32(name.encode()) % 10000 + 10100)
        return {"id": type_id, "name": name, "inward": f"is {name.lower()} by", "outward": name.lower(),
                "self": f"{self.base_url}/rest/api/{self.version}/issueLinkType/{type_id}"}

    def linked_issue(self, other: StoredIssue) -> dict:
        return {"id": str(other.id), "key": other.key, "self": f"{self.base_url}/rest/api/{self.version}/issue/{other.id}",
                "fields": {"summary": other.summary, "status": self.status(other.status),
                           "issuetype": self._field(other, "issuetype")}}

    def issue_link(self, link: dict) -> dict:
        """As Jira shows a link on one issue: the type and the other end only."""
        direction = "outwardIssue" if "outwardIssue" in link else "inwardIssue"
        return {"id": link["id"], "self": f"{self.base_url}/rest/api/{self.version}/issueLink/{link['id']}",
                "type": self.link_type(link["type"]), direction: self.linked_issue(self._linked(link))}

    def organisation(self, organisation: dict) -> dict:
        return {"id": str(organisation["id"]), "name": organisation["name"],
                "_links": {"self": f"{self.base_url}/rest/servicedeskapi/organization/{organisation['id']}"}}

    def field_names(self, issue: StoredIssue, requested: Iterable[str] | None) -> list[str]:
        everything = list(SYSTEM_FIELDS) + [self.state.organizations_field] + [
            k for k in issue.custom_fields if k not in (self.state.organizations_field, "security")]
        if requested is None:
            return everything
        wanted: list[str] = []
        excluded = set()
        for name in requested:
            name = name.strip()
            if name in ("*all", "*navigable"):
                wanted.extend(everything)
            elif name.startswith("-"):
                excluded.add(name[1:])
            elif name and name != "id" and name != "key":
                wanted.append(name)
        return [n for n in dict.fromkeys(wanted) if n not in excluded]

    def issue(self, issue: StoredIssue, fields: Iterable[str] | None, expand: Iterable[str] = (), properties: Iterable[str] = ()) -> dict:
        rendered: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": str(issue.id),
            "self": f"{self.base_url}/rest/api/{self.version}/issue/{issue.id}",
            "key": issue.key,
            "fields": {name: self._field(issue, name) for name in self.field_names(issue, fields)},
        }
        if "changelog" in expand:
            rendered["changelog"] = self.inline_changelog(issue)
        wanted_properties = [p for p in properties if p in issue.properties]
        if wanted_properties:
            rendered["properties"] = {p: issue.properties[p] for p in wanted_properties}
        return rendered
