"""Reading a ticket whole: Jira returns only part of an issue's history and comments inline.

- `POST /rest/api/3/search/jql` with `expand=changelog` returns a short page of the newest
  histories (40 observed, 20 in Adaptavist's notes), newest first, with `total` larger; the
  issue itself (`GET /issue/{key}?expand=changelog`) returns at most the newest 100. Only
  `GET /issue/{key}/changelog` pages through all of it, oldest first (Cloud; JIRA-CONTRACT.md
  1.3 and sandbox/REAL_JIRA.md). Data Center has no such resource and returns the whole changelog on the issue.
- `fields.comment` may hold fewer comments than its `total`; the rest come from
  `GET /issue/{key}/comment`. On Data Center comments carry no `jsdPublic`; whether one is
  internal is only in its `sd.public.comment` property, which that resource returns with
  `expand=properties`.
The rules never decide on a partial history, so everything is read before mapping.
"""

from __future__ import annotations

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.mapping import fields_to_read, ticket_from_issue_json
from jsm_autopilot.connector.people import directory_of
from jsm_autopilot.rules.model import Ticket

PAGE = 100  # the most either paged resource returns at once


def read_issue(client: JiraClient, settings: Settings, key: str) -> dict:
    """One issue with every field, history and comment the rules need."""
    issue_json = client.get_issue(key, fields_to_read(settings), expand="changelog", properties=[settings.automation.property_key])
    return complete_issue(client, issue_json)


def complete_issue(client: JiraClient, issue_json: dict) -> dict:
    """Fill in the histories and comments Jira left out of a search result or issue read."""
    key = issue_json["key"]
    changelog = issue_json.get("changelog")
    if isinstance(changelog, dict) and _short(changelog.get("histories"), changelog.get("total")):
        # Each keeps Jira's own count: a changelog still short of it stays visibly short, and the
        # mapping refuses to decide on it rather than on a partial history.
        issue_json["changelog"] = _all_histories(client, key) if client.deployment == "cloud" else _issue_changelog(client, key)
    fields = issue_json.get("fields") or {}
    comment = fields.get("comment")
    if isinstance(comment, dict):
        inline = comment.get("comments")
        # Data Center: visibility is only in the comment property, so any comment means a read.
        missing_visibility = client.deployment != "cloud" and bool(inline)
        if _short(inline, comment.get("total")) or missing_visibility:
            comments = list(client.comments(key))
            fields["comment"] = {**comment, "startAt": 0, "maxResults": len(comments), "total": len(comments), "comments": comments}
    return issue_json


def read_ticket(client: JiraClient, settings: Settings, key: str, issue_json: dict | None = None) -> tuple[dict, Ticket]:
    """The ticket from a search result (completed where Jira cut it short), else read from Jira."""
    issue_json = complete_issue(client, issue_json) if issue_json is not None else read_issue(client, settings, key)
    return issue_json, ticket_of(client, settings, issue_json)


def ticket_of(client: JiraClient, settings: Settings, issue_json: dict) -> Ticket:
    """The ticket of a complete issue, with its commenters' roles asked of Jira where the issue
    alone cannot tell (connector/people.py)."""
    return ticket_from_issue_json(issue_json, settings, directory_of(client, settings).people_for(issue_json))


def _short(values: object, total: object) -> bool:
    return isinstance(values, list) and isinstance(total, int) and total > len(values)


def _all_histories(client: JiraClient, key: str) -> dict:
    histories: list[dict] = []
    while True:
        page = client.call("GET", client.api(f"issue/{key}/changelog"), params={"startAt": len(histories), "maxResults": PAGE})
        values = page.get("values") or []
        histories.extend(values)
        total = int(page.get("total") or 0)
        if page.get("isLast", True) or not values or len(histories) >= total:
            return {"startAt": 0, "maxResults": len(histories), "total": max(total, len(histories)), "histories": histories}


def _issue_changelog(client: JiraClient, key: str) -> dict:
    """Data Center inlines the changelog on the issue, with its `total`."""
    changelog = client.get_issue(key, ["created"], expand="changelog").get("changelog") or {}
    histories = changelog.get("histories") or []
    total = changelog.get("total")
    return {"startAt": 0, "maxResults": len(histories), "total": total if isinstance(total, int) else len(histories),
            "histories": histories}
