"""Who a commenter is to the request, where the issue alone cannot tell (PROCESS.md, timers).

Customers may have Atlassian accounts (`accountType: atlassian`), as agents do, so the role comes
from the request: the reporter, the participants, the members of the ticket's organisations, unless
the account is an agent of the project. Jira lets only agents be assigned a service project's issues
("Only agents (licensed JSM users) can be assigned issues on a service project", Atlassian KB "User
cannot be assigned Jira Service Management issues"), so an account is an agent when the project's
assignable-user search returns it; that needs only the Assign issues permission the automation has.
Answers are kept for a while: agents and organisations change far more slowly than tickets.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient, paged_values
from jsm_autopilot.connector.mapping import People, user_identity

KEEP_SECONDS = 600.0


@dataclass
class Directory:
    """One site's answers about accounts and organisations, each kept `keep_seconds`."""

    client: JiraClient
    settings: Settings
    clock: Callable[[], float] = time.monotonic
    keep_seconds: float = KEEP_SECONDS
    _agents: dict[str, tuple[bool, float]] = field(default_factory=dict)
    _members: dict[str, tuple[frozenset[str], float]] = field(default_factory=dict)

    def people_for(self, issue_json: Mapping[str, Any]) -> People:
        """Which of the issue's human commenters are agents, and which belong to its organisations.
        Portal-only customers, apps and the automation need no question; nor does anyone when the
        issue has no comment by an Atlassian account."""
        fields = issue_json.get("fields") or {}
        comments = (fields.get("comment") or {}).get("comments") or []
        asked = {user_identity(c.get("author")) for c in comments
                 if isinstance(c, Mapping) and isinstance(c.get("author"), Mapping)
                 and c["author"].get("accountType", "atlassian") == "atlassian"}
        asked -= {None, self.settings.automation.account}
        if not asked:
            return People()
        agents = frozenset(a for a in asked if a is not None and self.is_agent(a))
        reporter = user_identity(fields.get("reporter"))
        participants = {user_identity(u) for u in fields.get(self.settings.fields.request_participants) or []}
        unknown = asked - agents - participants - {reporter}
        members: frozenset[str] = frozenset()
        if unknown:
            raw = fields.get(self.settings.fields.organizations)
            for organisation in raw if isinstance(raw, list) else []:
                if isinstance(organisation, Mapping) and organisation.get("id") is not None:
                    members |= self.members_of(str(organisation["id"])) & unknown
        return People(agents=agents, members=members)

    def is_agent(self, account: str) -> bool:
        kept = self._agents.get(account)
        if kept is not None and self.clock() - kept[1] < self.keep_seconds:
            return kept[0]
        who = {"accountId": account} if self.client.deployment == "cloud" else {"username": account}
        found = self.client.call("GET", self.client.api("user/assignable/search"),
                                 params={"project": self.settings.project.key, **who, "maxResults": 1})
        answer = any(user_identity(u) == account for u in found or [])
        self._agents[account] = (answer, self.clock())
        return answer

    def members_of(self, organisation_id: str) -> frozenset[str]:
        kept = self._members.get(organisation_id)
        if kept is not None and self.clock() - kept[1] < self.keep_seconds:
            return kept[0]
        path = f"rest/servicedeskapi/organization/{organisation_id}/user"
        members = frozenset(filter(None, (user_identity(u) for u in paged_values(self.client, path))))
        self._members[organisation_id] = (members, self.clock())
        return members


_directories: "weakref.WeakKeyDictionary[JiraClient, Directory]" = weakref.WeakKeyDictionary()


def directory_of(client: JiraClient, settings: Settings) -> Directory:
    """The directory kept for this client (one per site and process)."""
    found = _directories.get(client)
    if found is None or found.settings is not settings:
        found = _directories[client] = Directory(client, settings)
    return found
