"""Builds issues shaped as Jira Cloud's `POST /rest/api/3/search/jql` returns them with
`expand=changelog`: ADF comment bodies, `jsdPublic`, changelog histories, JSM organisations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SITE = "https://example-support.atlassian.net"
AUTOMATION = "5b10ac8d82e05b22cc7d4ef5"  # as in the shipped app.yaml


def jira_time(instant: datetime) -> str:
    """Jira's own format: milliseconds and a +hhmm offset."""
    text = instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}"
    return text + instant.strftime("%z")


def user(account_id: str, name: str, account_type: str = "atlassian") -> dict:
    return {
        "self": f"{SITE}/rest/api/3/user?accountId={account_id}",
        "accountId": account_id,
        "displayName": name,
        "active": True,
        "timeZone": "Europe/Berlin",
        "accountType": account_type,
    }


def adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in text.split("\n")
            if line
        ],
    }


@dataclass
class IssueBuilder:
    key: str
    issue_type: str
    status: str
    created: datetime
    reporter: dict
    summary: str = "Question about the learning platform"
    organisation: str | None = None
    participants: list[dict] = field(default_factory=list)
    priority: str | None = None
    resolved: datetime | None = None
    histories: list[dict] = field(default_factory=list)
    comments: list[dict] = field(default_factory=list)
    properties: dict = field(default_factory=dict)
    _next_id: int = 10000

    def _id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def moved(self, when: datetime, from_status: str, to_status: str, by: dict | None = None) -> "IssueBuilder":
        self.histories.append(
            {
                "id": self._id(),
                "author": by or user("712020:agent-anna", "Anna Agent"),
                "created": jira_time(when),
                "items": [
                    {
                        "field": "status",
                        "fieldtype": "jira",
                        "fieldId": "status",
                        "from": "1",
                        "fromString": from_status,
                        "to": "2",
                        "toString": to_status,
                    }
                ],
            }
        )
        return self

    def commented(self, when: datetime, author: dict, text: str, public: bool = True, rule: str | None = None) -> "IssueBuilder":
        comment = {
            "self": f"{SITE}/rest/api/3/issue/{self.key}/comment/{self._next_id + 1}",
            "id": self._id(),
            "author": author,
            "body": adf(text),
            "updateAuthor": author,
            "created": jira_time(when),
            "updated": jira_time(when),
            "jsdPublic": public,
        }
        self.comments.append(comment)
        if rule is not None:
            self.fired(rule, when)
        return self

    def fired(self, rule: str, when: datetime) -> "IssueBuilder":
        """Record a firing in the automation's issue property, as the executor does."""
        log = self.properties.setdefault("jsm-autopilot", {"firings": []})
        log["firings"].append({"id": f"f{len(log['firings']) + 1}", "rule": rule, "at": jira_time(when)})
        return self

    def json(self) -> dict:
        fields = {
            "summary": self.summary,
            "issuetype": {"id": "10001", "name": self.issue_type, "subtask": False},
            "status": {"id": "10002", "name": self.status},
            "priority": {"id": "3", "name": self.priority} if self.priority else None,
            "created": jira_time(self.created),
            "updated": jira_time(max([self.created] + [datetime.fromisoformat(h["created"]) for h in self.histories])),
            "resolutiondate": jira_time(self.resolved) if self.resolved else None,
            "reporter": self.reporter,
            "customfield_10001": self.participants,
            "customfield_10002": (
                [{"id": "3", "name": self.organisation, "_links": {"self": f"{SITE}/rest/servicedeskapi/organization/3"}}]
                if self.organisation
                else []
            ),
            "comment": {
                "comments": self.comments,
                "self": f"{SITE}/rest/api/3/issue/{self.key}/comment",
                "maxResults": len(self.comments),
                "total": len(self.comments),
                "startAt": 0,
            },
        }
        issue = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": str(10000 + int(self.key.rsplit("-", 1)[1])),
            "self": f"{SITE}/rest/api/3/issue/{self.key}",
            "key": self.key,
            "fields": fields,
            "changelog": {"startAt": 0, "maxResults": len(self.histories), "total": len(self.histories), "histories": self.histories},
        }
        if self.properties:
            issue["properties"] = self.properties
        return issue
