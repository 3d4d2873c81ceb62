"""The admin webhook that feeds `serve`: list, register or update, delete, on Cloud and Data Center.

Two resources, with bodies of their own:
- Cloud and Data Center before 10: `/rest/webhooks/1.0/webhook` (Atlassian's webhook page, only
  described in prose, JIRA-CONTRACT.md 1.1): `filters.issue-related-events-section` holds the JQL,
  `secret` the signing secret; an entry's id is the last part of its `self`.
- Data Center 10 and later: `/rest/jira-webhook/1.0/webhooks` (Atlassian's Data Center webhook
  page: "Starting from Jira 10.0.x, the URL to webhook resource has changed"; getsentry/sentry#90116
  switches on `serverInfo.versionNumbers`): numeric `id`, `active`, and a `configuration` map with
  `FILTERS`, `EXCLUDE_BODY` and `SECRET` (a top-level `secret` is ignored there, and deliveries
  then arrive unsigned).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from urllib.parse import urlsplit

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.jql import jql_string
from jsm_autopilot.errors import WebhookUrlError

WEBHOOK_EVENTS = ("jira:issue_created", "jira:issue_updated", "comment_created", "comment_updated")
RECEIVER_PATH = "/webhooks/jira"
LEGACY_RESOURCE = "rest/webhooks/1.0/webhook"
DATA_CENTER_10_RESOURCE = "rest/jira-webhook/1.0/webhooks"


@dataclass(frozen=True)
class Webhook:
    id: str
    name: str
    url: str
    events: tuple[str, ...]
    jql: str
    enabled: bool

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "url": self.url, "events": list(self.events), "jql": self.jql, "enabled": self.enabled}


def check_receiver_url(url: str) -> list[str]:
    """Raise for an address `serve` does not answer at; return warnings for a doubtful one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookUrlError(f"--url must be an http(s) address, got {url!r}", url)
    if not parts.path.rstrip("/").endswith(RECEIVER_PATH) or parts.query:
        raise WebhookUrlError(f"--url must end in {RECEIVER_PATH}, where serve receives deliveries (got {url!r})", url)
    if parts.scheme == "http":
        return [f"{url} is plain http: the deliveries and their signatures cross the network unencrypted; use https"]
    return []


def project_jql(settings: Settings) -> str:
    return f"project = {jql_string(settings.project.key)}"


class WebhookAdmin:
    """The site's admin webhook resource; which one is asked of `serverInfo` once."""

    def __init__(self, client: JiraClient):
        self.client = client
        self.resource = LEGACY_RESOURCE
        if client.deployment != "cloud":
            major = (client.call("GET", client.api("serverInfo")).get("versionNumbers") or [0])[0]
            self.resource = DATA_CENTER_10_RESOURCE if major >= 10 else LEGACY_RESOURCE

    @property
    def data_center_10(self) -> bool:
        return self.resource == DATA_CENTER_10_RESOURCE

    def list(self) -> list[Webhook]:
        answer = self.client.call("GET", self.resource)
        entries = answer.get("values", []) if isinstance(answer, dict) else answer
        return [self._read(entry) for entry in entries or []]

    # From here on in the class body, `list` is the method above: annotations say builtins.list.
    def of_project(self, settings: Settings) -> builtins.list[Webhook]:
        """The webhooks that deliver this project's events (by their JQL or their name)."""
        mine = f"jsm-autopilot {settings.project.key}"
        return [h for h in self.list() if h.name == mine or _names_project(h.jql, settings.project.key)]

    def register(self, settings: Settings, url: str, secret: str) -> tuple[str, Webhook]:
        """Create the project's webhook, or update the existing one (URL, secret, events, JQL).
        Returns ("created" | "updated", webhook); duplicates beyond the first are left to `delete`."""
        body = self._body(f"jsm-autopilot {settings.project.key}", url, project_jql(settings), secret)
        existing = self.of_project(settings)
        if existing:
            answer = self.client.call("PUT", f"{self.resource}/{existing[0].id}", body=body, write=False)
            return "updated", self._read(answer) if isinstance(answer, dict) and answer else existing[0]
        return "created", self._read(self.client.call("POST", self.resource, body=body))

    def delete(self, webhook_id: str) -> None:
        self.client.call("DELETE", f"{self.resource}/{webhook_id}", write=False)

    def _body(self, name: str, url: str, jql: str, secret: str) -> dict:
        if self.data_center_10:
            return {"name": name, "url": url, "events": list(WEBHOOK_EVENTS), "active": True,
                    "configuration": {"FILTERS": jql, "EXCLUDE_BODY": "false", "SECRET": secret}}
        return {"name": name, "url": url, "events": list(WEBHOOK_EVENTS), "excludeBody": False,
                "filters": {"issue-related-events-section": jql}, "secret": secret, "enabled": True}

    def _read(self, entry: dict) -> Webhook:
        if self.data_center_10:
            configuration = entry.get("configuration") or {}
            return Webhook(str(entry.get("id")), str(entry.get("name") or ""), str(entry.get("url") or ""),
                           tuple(entry.get("events") or ()), str(configuration.get("FILTERS") or ""), bool(entry.get("active", True)))
        identifier = str(entry.get("id") or str(entry.get("self") or "").rstrip("/").rsplit("/", 1)[-1])
        filters = entry.get("filters") or {}
        return Webhook(identifier, str(entry.get("name") or ""), str(entry.get("url") or ""), tuple(entry.get("events") or ()),
                       str(filters.get("issue-related-events-section") or ""), bool(entry.get("enabled", True)))


def _names_project(jql: str, key: str) -> bool:
    normalised = " ".join(jql.replace('"', " ").replace("'", " ").split()).lower()
    return f"project = {key.lower()}" in normalised or f"project in ( {key.lower()}" in normalised
