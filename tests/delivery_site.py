"""A sandbox with customer organisations and tickets waiting in Delivery Pending, for the delivery
tests (the `shop` fixture in conftest.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests
from click.testing import CliRunner

import jsm_autopilot.cli.deliveries  # noqa: F401  (registers the command)
from jsm_autopilot.cli.main import main
from jsm_autopilot.connector.deliveries import DeliveryRegistry, DeliveryRequest, create_or_update
from jsm_autopilot.connector.executor import Executor
from jsm_autopilot.service.guard import TicketGuard
from jsm_autopilot.store.event_store import EventStore
from tests.site import AGENT, BOT
from tests.test_sweep_cli import config_for

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
ACME = "Acme Learning Ltd"


class DeliverySite:
    """A sandbox with organisations and tickets waiting in Delivery Pending."""

    def __init__(self, site, tmp_path):
        self.site, self.settings, self.tmp_path = site, site.settings, tmp_path
        self.agent = requests.Session()
        self.agent.auth = (AGENT, "t")
        self.org_ids: dict[str, int] = {}
        self.store = EventStore(f"sqlite:///{tmp_path / 'autopilot.db'}")
        self.store.migrate()

    def organisation(self, name: str) -> int:
        answer = self.agent.post(f"{self.site.url}/rest/servicedeskapi/organization", json={"name": name})
        answer.raise_for_status()
        self.org_ids[name] = int(answer.json()["id"])
        return self.org_ids[name]

    def pending(self, organisation: str, version: str | None, summary: str, issue_type: str = "Software Defect") -> str:
        key = self.site.create(issue_type=issue_type, summary=summary, **{self.settings.fields.organizations: [self.org_ids[organisation]]})
        self.site.move(key, "In Review by Service Desk")
        if version is not None:
            self.edit(key, {self.settings.fields.delivery_version: version})
        self.site.move(key, "Delivery Pending")
        return key

    def edit(self, key: str, fields: dict) -> None:
        self.agent.put(self.site.api(f"issue/{key}"), json={"fields": fields}).raise_for_status()

    def read(self, key: str) -> dict:
        configured = [v for v in self.settings.fields.model_dump().values() if v]
        fields = ",".join(["summary", "description", "status", "issuelinks", "issuetype", "comment", *configured])
        return self.agent.get(self.site.api(f"issue/{key}"), params={"fields": fields}).json()

    def linked_keys(self, key: str) -> list[str]:
        links = self.read(key)["fields"]["issuelinks"]
        return sorted((link.get("outwardIssue") or link.get("inwardIssue"))["key"] for link in links)

    def deliveries(self) -> list[str]:
        found = self.agent.post(f"{self.site.url}/rest/api/3/search/jql", json={"jql": 'issuetype = "Delivery"', "fields": ["summary"]}) \
            if self.site.version == "3" else self.agent.post(self.site.api("search"), json={"jql": 'issuetype = "Delivery"', "fields": ["summary"]})
        return [i["key"] for i in found.json()["issues"]]

    def create(self, request: DeliveryRequest, holder: str = "test", dry_run: bool = False):
        client = self.site.client()
        registry = DeliveryRegistry(self.store, TicketGuard(self.store, holder, wait=timedelta(seconds=30)))
        return create_or_update(client, self.settings, Executor(client, self.settings), registry, request,
                                guard=TicketGuard(self.store, holder), dry_run=dry_run)

    def cli(self, *args: str):
        env = {"JIRA_URL": self.site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
               "JSM_AUTOPILOT_DB": f"sqlite:///{self.tmp_path / 'autopilot.db'}"}
        if self.site.version == "2":
            env.update({"JIRA_USER": "", "JIRA_API_TOKEN": "", "JIRA_PAT": self.site.personal_access_token(BOT)})
        return CliRunner().invoke(main, ["delivery", "create", *args, "--config", str(config_for(self.site, self.tmp_path))], env=env)


def stocked_shop(site_factory, tmp_path):
    """Acme (English) with three tickets of 14.21.3.1, one CUSTOM, one of 14.21.3.2; Muster AG with one of 14.21.3.1."""
    site = site_factory(T0)
    shop = DeliverySite(site, tmp_path)
    shop.organisation(ACME)
    shop.organisation("Muster AG")
    shop.keys = {
        "a1": shop.pending(ACME, "14.21.3.1", "Import | fails on *bold* names"),
        "a2": shop.pending(ACME, "14.21.3.1", "Report totals wrong"),
        "custom": shop.pending(ACME, "CUSTOM", "Customer logo in header", issue_type="Customisation"),
        "other_version": shop.pending(ACME, "14.21.3.2", "Later fix"),
        "muster": shop.pending("Muster AG", "14.21.3.1", "Fehler beim Export"),
    }
    return shop


