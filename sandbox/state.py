"""What the sandbox Jira holds: users, issues with comments, history and properties, organisations,
its clock, its fault injection and the log of requests it served. Guarded by one lock."""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from jsm_autopilot.sandbox.oauth_api import SignIn
from jsm_autopilot.sandbox.webhooks import WebhookSender
from jsm_autopilot.sandbox.workflow import RESOLUTIONS, Workflow


def _resolution_id(name: str) -> str:
    return next((i for i, n in RESOLUTIONS.items() if n == name), "10000")


class SandboxError(Exception):
    """Answered as Jira answers errors: `{"errorMessages": [...], "errors": {...}}`, or JSM's shape."""

    def __init__(self, status: int, message: str, errors: dict | None = None, jsm: bool = False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}
        self.jsm = jsm

    def body(self) -> dict:
        if self.jsm:
            return {"errorMessage": self.message, "i18nErrorMessage": {"i18nKey": "sd.error", "parameters": []}}
        return {"errorMessages": [self.message] if self.message else [], "errors": self.errors}


def account_id_for(email: str) -> str:
    """Stable accountId for an e-mail, shaped like Jira Cloud's 24 hex digits."""
    return hashlib.sha1(email.strip().lower().encode()).hexdigest()[:24]


@dataclass
class User:
    account_id: str
    email: str
    display_name: str
    account_type: str = "atlassian"  # "customer" for portal-only users


@dataclass
class StoredComment:
    id: int
    author: User
    text: str
    created: datetime
    public: bool = True
    properties: dict[str, Any] = field(default_factory=dict)
    # Comment security: {"type": "role"|"group", "value": name}; kept apart from `public` (jsdPublic).
    visibility: dict[str, str] | None = None


@dataclass
class History:
    id: int
    author: User
    created: datetime
    items: list[dict]


@dataclass
class StoredIssue:
    id: int
    key: str
    issue_type: str
    status: str
    summary: str
    reporter: User
    created: datetime
    updated: datetime
    description: str = ""
    description_document: dict | None = None  # the ADF as a v3 client sent it
    priority: str | None = None
    resolution: str | None = None
    resolutiondate: datetime | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    comments: list[StoredComment] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    # {"id", "type" (name), and "outwardIssue" or "inwardIssue": the other issue's id}
    links: list[dict] = field(default_factory=list)
    channel: str = "portal"
    project: str = ""
    # The JSM request type (its name). Without one an issue is not on the portal: no customer sees
    # it, whoever shares it (Atlassian, "What are request types?").
    request_type: str | None = None


class SandboxState:
    def __init__(self, workflow: Workflow, project_key: str, deployment: str = "cloud", now: datetime | None = None,
                 fault_seed: int = 0, organizations_field: str = "customfield_10002"):
        self.lock = threading.RLock()
        self.workflow = workflow
        self.project_key = project_key
        self.deployment = deployment
        self.organizations_field = organizations_field
        self.field_types: dict[str, str] = {}  # a custom field's schema type ("date", "datetime", ...)
        self.now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self.users_by_email: dict[str, User] = {}
        self.users_by_id: dict[str, User] = {}
        self.personal_access_tokens: dict[str, str] = {}
        self.sign_in = SignIn()  # OAuth apps, codes, tokens and groups (sandbox/oauth_api.py)
        # What a Data Center site's serverInfo reports; from 10.0 the admin webhook resource moved.
        self.data_center_version: tuple[int, int, int] = (10, 3, 6)
        self.issues: dict[str, StoredIssue] = {}
        self.issues_by_id: dict[int, StoredIssue] = {}
        self.organisations: dict[int, dict] = {}
        self.requests: list[dict] = []
        self.fault_rate = 0.0
        # Jira's search index lags behind writes: an issue created less than this long ago (on the
        # sandbox clock) is not found by JQL yet, though reading it by key works.
        self.search_lag = timedelta(0)
        self.fault_statuses: list[int] = [429, 503]
        # Late writes: the next `late_writes` writes are applied only after `late_delay` seconds,
        # when a client with a shorter timeout has given up (a gateway timeout that still lands).
        self.revoked_credentials: set[str] = set()
        self.fault_paths: list[str] = [""]  # faults hit requests whose path holds one of these
        self.fault_methods = {"GET", "POST", "PUT", "DELETE"}
        self.latency = 0.0  # seconds added to every REST call (/_sandbox/faults latency_ms)
        self.in_flight = self.most_in_flight = 0
        self.late_writes = 0
        self.late_delay = 0.0
        self.late_pending = 0
        self.late_hold = False  # held until POST /_sandbox/late/release instead of late_delay
        self.late_release = threading.Event()
        self._random = random.Random(fault_seed)
        self.webhooks = WebhookSender()
        # JSM operations (sandbox/ops_api.py): the API integration's key, and the alerts it took.
        self.ops_api_key = "sandbox-ops-key"
        self.ops_alerts: list[dict] = []
        self.registered_webhooks: list[dict] = []
        self.security_levels: dict[str, str] = {}  # the project's issue security levels, id -> name
        self.project_admins: set[str] = set()  # accountIds that may delete issues
        # Agents of the project (the Service Desk Team role, with a JSM licence): only they can be
        # assigned its issues. Other Atlassian accounts are customers where the request makes them so.
        self.agents: set[str] = set()  # accountIds or e-mail addresses
        # Required fields a site put on the screens of transitions into a status, beyond Resolution:
        # {status: {field id: FieldMetadata}}, shown by expand=transitions.fields, enforced on POST.
        self.screen_fields: dict[str, dict[str, dict]] = {}
        self.service_desk_id = "1"
        self.request_types: dict[str, dict] = {}  # id -> {"name", "issue_type"}
        self.settings = None  # the site's configuration (statuses, priorities, fields), when known
        self._next_issue_number: dict[str, int] = {}
        self.other_projects: set[str] = set()  # e.g. a product-management project
        self._next_id = 10000

    def is_agent(self, user: User) -> bool:
        """An agent of the project: an Atlassian account in the Service Desk Team role."""
        return user.account_type == "atlassian" and (user.account_id in self.agents or user.email in self.agents)

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def user(self, email: str, display_name: str | None = None, account_type: str | None = None,
             account_id: str | None = None) -> User:
        """The user with that e-mail; an unknown e-mail becomes a user on first use, like a JSM customer."""
        key = email.strip().lower()
        existing = self.users_by_email.get(key)
        if existing is not None:
            return existing
        if account_id is None and account_type == "customer":
            # Portal customers' accountIds are of their own shape ("qm:<uuid>:<hex>", the
            # servicedeskapi spec's createCustomer example), unlike Atlassian accounts.
            digest = account_id_for(key)
            account_id = f"qm:{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[:12]}:{digest}"
        user = User(
            account_id=account_id or account_id_for(key),
            email=key,
            display_name=display_name or key.split("@")[0].replace(".", " ").title(),
            account_type=account_type or "atlassian",
        )
        self.users_by_email[key] = user
        self.users_by_id[user.account_id] = user
        return user

    def issue(self, key_or_id: str) -> StoredIssue:
        found = self.issues.get(key_or_id.upper())
        if found is None and key_or_id.isdigit():
            found = self.issues_by_id.get(int(key_or_id))
        if found is None:
            raise SandboxError(404, "Issue does not exist or you do not have permission to see it.")
        return found

    def create_issue(self, reporter: User, issue_type: str, summary: str, project: str | None = None, **attributes: Any) -> StoredIssue:
        project = project or self.project_key
        self._next_issue_number[project] = self._next_issue_number.get(project, 0) + 1
        key = f"{project}-{self._next_issue_number[project]}"
        issue = StoredIssue(
            id=self.next_id(), key=key, issue_type=issue_type, summary=summary, reporter=reporter,
            status=self.workflow.initial_status(issue_type), created=self.now, updated=self.now, project=project, **attributes,
        )
        self.issues[key] = issue
        self.issues_by_id[issue.id] = issue
        return issue

    def record_change(self, issue: StoredIssue, author: User, items: list[dict]) -> None:
        """Every change leaves a changelog entry and moves `updated`, as in Jira."""
        if items:
            issue.histories.append(History(self.next_id(), author, self.now, items))
        issue.updated = self.now

    def record_link(self, inward: StoredIssue, outward: StoredIssue, link_type: str, author: User, added: bool) -> None:
        """Adding or removing a link writes a `Link` history item on both issues, as Jira does."""
        for issue, other in ((inward, outward), (outward, inward)):
            text = f"This issue {link_type.lower()} {other.key}"
            item = {"field": "Link", "fieldtype": "jira", "from": None if added else other.key,
                    "fromString": None if added else text, "to": other.key if added else None, "toString": text if added else None}
            self.record_change(issue, author, [item])

    def move(self, issue: StoredIssue, to_status: str, author: User, resolution: str | None = None) -> None:
        """`resolution` as chosen on the transition's screen; done statuses without a screen get
        Done, as the post-function of Jira's default workflows sets it."""
        items = [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                  "from": self.workflow.status_id(issue.status), "fromString": issue.status,
                  "to": self.workflow.status_id(to_status), "toString": to_status}]
        done = self.workflow.is_done(to_status)
        chosen = resolution or issue.resolution or "Done"
        if done and issue.resolution != chosen:
            items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                          "from": None, "fromString": issue.resolution, "to": _resolution_id(chosen), "toString": chosen})
            issue.resolution, issue.resolutiondate = chosen, issue.resolutiondate or self.now
        elif not done and issue.resolution is not None:
            items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                          "from": "10000", "fromString": issue.resolution, "to": None, "toString": None})
            issue.resolution, issue.resolutiondate = None, None
        issue.status = to_status
        self.record_change(issue, author, items)

    def add_comment(self, issue: StoredIssue, author: User, text: str, public: bool = True,
                    properties: dict | None = None, visibility: dict | None = None) -> StoredComment:
        comment = StoredComment(self.next_id(), author, text, self.now, public, dict(properties or {}), visibility)
        issue.comments.append(comment)
        issue.updated = self.now
        return comment

    def may_see_request(self, user: User, issue: StoredIssue, participants_field: str | None) -> bool:
        """What JSM lets a portal customer see: requests they raised, take part in, or that are
        shared with one of their organisations."""
        if user.account_type != "customer":
            return True
        if issue.request_type is None:
            return False
        if user is issue.reporter:
            return True
        participants = issue.custom_fields.get(participants_field) if participants_field else None
        if any(isinstance(p, dict) and p.get("accountId") == user.account_id for p in participants or []):
            return True
        shared = issue.custom_fields.get(self.organizations_field) or []
        return any(user.account_id in self.organisations.get(o, {}).get("members", set()) for o in shared)

    def request_type_named(self, name: str | None) -> str | None:
        return next((i for i, t in self.request_types.items() if t["name"] == name), None)

    def should_fail(self) -> int | None:
        """The status of an injected fault for this call, or None."""
        if self.fault_rate > 0 and self._random.random() < self.fault_rate:
            return self._random.choice(self.fault_statuses)
        return None
