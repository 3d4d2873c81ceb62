"""A sandbox site driven over real HTTP, as people and the service would use Jira."""

from __future__ import annotations

from datetime import datetime

import requests

from jsm_autopilot.config.environment import JiraCredentials
from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.sandbox import RunningSandbox

BOT = "autopilot@vendor.example"
AGENT = "anna@vendor.example"
CUSTOMER = "claire@acme.example"


class Site:
    def __init__(self, running: RunningSandbox, settings: Settings):
        self.running = running
        self.settings = settings
        self.url = running.url
        self.state = running.state
        self.version = "3" if running.state.deployment == "cloud" else "2"
        # The service desk team: the automation's account and the agent the tests act as.
        with self.state.lock:
            self.state.agents |= {AGENT, BOT}

    def _as(self, email: str) -> requests.Session:
        session = requests.Session()
        session.auth = (email, "api-token")
        return session

    def api(self, tail: str) -> str:
        return f"{self.url}/rest/api/{self.version}/{tail}"

    def body(self, text: str):
        if self.version == "2":
            return text
        return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}

    def set_clock(self, now: datetime) -> None:
        requests.post(f"{self.url}/_sandbox/clock", json={"now": now.isoformat()}).raise_for_status()

    def faults(self, rate: float, statuses: list[int] | None = None) -> None:
        requests.post(f"{self.url}/_sandbox/faults", json={"rate": rate, "statuses": statuses or [429, 503]}).raise_for_status()

    def seed(self, document: dict) -> list[str]:
        response = requests.post(f"{self.url}/_sandbox/seed", json=document)
        response.raise_for_status()
        return response.json()["issues"]

    def requests_made(self) -> list[dict]:
        return requests.get(f"{self.url}/_sandbox/requests").json()["requests"]

    def create(self, reporter: str = CUSTOMER, issue_type: str = "Incident", summary: str = "Upload fails", **fields) -> str:
        payload = {"fields": {"project": {"key": self.settings.project.key}, "issuetype": {"name": issue_type}, "summary": summary, **fields}}
        response = self._as(reporter).post(self.api("issue"), json=payload)
        response.raise_for_status()
        return response.json()["key"]

    def move(self, key: str, status: str, by: str = AGENT) -> None:
        session = self._as(by)
        offered = session.get(self.api(f"issue/{key}/transitions"), params={"expand": "transitions.fields"}).json()["transitions"]
        chosen = next(t for t in offered if t["to"]["name"] == status)
        payload: dict = {"transition": {"id": chosen["id"]}}
        if "resolution" in chosen.get("fields", {}):  # the agent fills in the screen
            payload["fields"] = {"resolution": {"name": "Done"}}
        session.post(self.api(f"issue/{key}/transitions"), json=payload).raise_for_status()

    def comment(self, key: str, text: str, by: str = CUSTOMER) -> None:
        self._as(by).post(self.api(f"issue/{key}/comment"), json={"body": self.body(text)}).raise_for_status()

    def issue(self, key: str) -> dict:
        response = self._as(AGENT).get(self.api(f"issue/{key}"), params={"fields": "status,comment", "properties": self.settings.automation.property_key})
        response.raise_for_status()
        return response.json()

    def comments_by_bot(self, key: str, public: bool | None = None) -> list[dict]:
        response = self._as(AGENT).get(self.api(f"issue/{key}/comment"), params={"expand": "properties"})
        response.raise_for_status()
        bot = self.state.user(BOT)
        mine = [c for c in response.json()["comments"]
                if (c["author"].get("accountId") or c["author"].get("name")) in (bot.account_id, bot.email)]
        return [c for c in mine if public is None or is_public(c) is public]

    def personal_access_token(self, user: str) -> str:
        """Made as on Data Center: POST /rest/pat/latest/tokens with the user's password."""
        response = requests.post(f"{self.url}/rest/pat/latest/tokens", auth=(user, "password"),
                                 json={"name": "jsm-autopilot", "expirationDuration": 90})
        response.raise_for_status()
        return response.json()["rawToken"]

    def client(self, sleeps: list | None = None, sleep=None, **options) -> JiraClient:
        recorded = sleeps if sleeps is not None else []
        if self.version == "3":
            credentials = JiraCredentials(self.url, BOT, "api-token")
        else:
            credentials = JiraCredentials(self.url, personal_access_token=self.personal_access_token(BOT))
        return JiraClient(credentials, self.state.deployment, sleep=sleep or recorded.append, **options)


def is_public(comment: dict) -> bool:
    """Cloud shows `jsdPublic`; Data Center only the `sd.public.comment` property."""
    if "jsdPublic" in comment:
        return comment["jsdPublic"]
    marker = {p["key"]: p["value"] for p in comment.get("properties", [])}.get("sd.public.comment") or {}
    return marker.get("internal") is not True


def site_with_due_reminder(site_factory, t0, **options):
    """A sandbox site whose one ticket entered Clarification at t0, with the clock at t0 + 10 days."""
    from datetime import timedelta

    site = site_factory(t0 - timedelta(days=1), **options)
    key = site.create()
    site.set_clock(t0)
    site.move(key, "Clarification required / On hold")
    site.set_clock(t0 + timedelta(days=10))
    return site, key
