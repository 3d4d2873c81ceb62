"""Delivery tickets against the sandbox, through each of the three ways in, on Cloud and Data Center."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
from werkzeug.serving import make_server

import jsm_autopilot.cli.deliveries  # noqa: F401  (registers the command)
from jsm_autopilot.connector.deliveries import DeliveryRegistry, DeliveryRequest, create_or_update
from jsm_autopilot.connector.executor import Executor
from jsm_autopilot.connector.mapping import adf_to_text
from jsm_autopilot.connector.sweep import sweep_once
from jsm_autopilot.service.guard import TicketGuard
from tests.delivery_site import ACME, T0, DeliverySite
from tests.site import AGENT, BOT
from tests.test_sweep_cli import config_for

HEADING = "The following Service Desk tickets are expected to be included in this delivery:"


def adf_table(issue: dict) -> tuple[str, list[list[str]]]:
    """The description's heading and table rows, as text, from the ADF document."""
    document = issue["fields"]["description"]
    heading, table = document["content"][0], document["content"][1]
    assert table["type"] == "table"
    rows = [[adf_to_text(cell).strip() for cell in row["content"]] for row in table["content"]]
    assert [cell["type"] for cell in table["content"][0]["content"]] == ["tableHeader"] * 3
    return adf_to_text(heading).strip(), rows


def expected_rows(shop) -> list[list[str]]:
    k = shop.keys
    return [["Key", "Request Type", "Summary"],
            [k["a1"], "Software Defect", "Import | fails on *bold* names"],
            [k["a2"], "Software Defect", "Report totals wrong"],
            [k["custom"], "Customisation", "Customer logo in header"]]


def check_filled(shop, key: str, estimated: str | None = "2026-06-15") -> None:
    issue = shop.read(key)
    fields = issue["fields"]
    assert fields["summary"] == "Delivery of Patch 14.21.3.1"
    assert fields["status"]["name"] == "Planned" and fields["issuetype"]["name"] == "Delivery"
    assert fields[shop.settings.fields.delivery_version] == "14.21.3.1"
    assert fields.get(shop.settings.fields.estimated_delivery_date) == estimated
    assert adf_table(issue) == (HEADING, expected_rows(shop))
    assert shop.linked_keys(key) == sorted([shop.keys["a1"], shop.keys["a2"], shop.keys["custom"]])


def test_the_cli_creates_one_delivery_ticket_and_a_second_run_updates_it(shop):
    args = ["--organisation", ACME, "--version", "14.21.3.1", "--estimated-date", "2026-06-15",
            "--docs", "https://docs.example/14.21.3.1/release-notes", "--docs", "https://docs.example/14.21.3.1/install",
            "--environment", "Dedicated Cloud"]
    first = shop.cli(*args)
    assert first.exit_code == 0, first.output
    key = shop.deliveries()[0]
    assert first.stdout.startswith(f"Created {key}: Delivery of patch 14.21.3.1 for {ACME}, 3 ticket(s)")
    check_filled(shop, key)
    fields = shop.read(key)["fields"]
    assert adf_to_text(fields[shop.settings.fields.documentation_links]).split() == [
        "https://docs.example/14.21.3.1/release-notes", "https://docs.example/14.21.3.1/install"]
    assert adf_to_text(fields["environment"]).strip() == "Dedicated Cloud"
    again = shop.cli(*args, "--json")
    assert again.exit_code == 0, again.output
    answer = json.loads(again.stdout)
    assert answer["key"] == key and answer["created"] is False and answer["actions"] == []
    assert shop.deliveries() == [key]
    check_filled(shop, key)


def test_a_dry_run_writes_nothing_and_says_what_it_would_list(shop):
    result = shop.cli("--organisation", ACME, "--version", "14.21.3.1", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["key"] is None and answer["dry_run"] is True
    assert answer["included"] == [shop.keys["a1"], shop.keys["a2"], shop.keys["custom"]]
    assert shop.deliveries() == []


@pytest.mark.parametrize("args, message", [
    (["--organisation", ACME, "--version", "14.21"], "--version: '14.21' is not a patch version"),
    (["--organisation", ACME, "--version", "14.21.3.1", "--estimated-date", "next week"], "--estimated-date: 'next week' is not a date"),
    (["--organisation", ACME, "--version", "14.21.3.1", "--docs", "docs.example"], "--docs"),
    (["--organisation", "Nobody Ltd", "--version", "14.21.3.1"], "--organisation: no JSM organisation is named 'Nobody Ltd'"),
])
def test_bad_input_exits_two_naming_the_option(shop, args, message):
    result = shop.cli(*args)
    assert result.exit_code == 2 and message in result.stderr
    assert shop.deliveries() == []


def test_concurrent_creations_leave_one_ticket(shop):
    request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-06-15"}, shop.settings)
    results, errors = [], []

    def create(holder):
        try:
            results.append(shop.create(request, holder))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=create, args=(f"replica-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(shop.deliveries()) == 1
    assert sorted(r.created for r in results) == [False, False, False, True]
    check_filled(shop, shop.deliveries()[0])
    notes = [c for c in shop.read(shop.deliveries()[0])["fields"]["comment"]["comments"] if "delivery.create" in adf_to_text(c["body"])]
    assert len(notes) == 1


def test_two_cli_processes_at_once_leave_one_ticket(shop):
    import os
    import subprocess
    import sys
    from pathlib import Path

    command = [str(Path(sys.executable).parent / "jsm-autopilot"), "delivery", "create", "--organisation", ACME,
               "--version", "14.21.3.1", "--json", "--config", str(config_for(shop.site, shop.tmp_path))]
    env = {**os.environ, "JIRA_URL": shop.site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
           "JSM_AUTOPILOT_DB": f"sqlite:///{shop.tmp_path / 'autopilot.db'}"}
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    answers = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert sorted(a["created"] for a in answers) == [False, True] and answers[0]["key"] == answers[1]["key"]
    assert shop.deliveries() == [answers[0]["key"]]


class RunningApi:
    def __init__(self, shop, token: bytes | None = b"release-token"):
        from jsm_autopilot.service.serve import Service

        self.service = Service(shop.settings, shop.store, shop.site.client(), b"secret", token)
        self.server = make_server("127.0.0.1", 0, self.service.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/deliveries"

    def post(self, body, token: str | None = "release-token"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url, json=body, headers=headers, timeout=60)

    def close(self):
        self.server.shutdown()


def test_the_api_creates_then_updates_and_refuses_bad_input(shop):
    api = RunningApi(shop)
    try:
        body = {"organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-06-15", "environment": "Dedicated Cloud"}
        assert api.post(body, token=None).status_code == 401
        assert api.post(body, token="wrong").status_code == 401
        created = api.post(body)
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        check_filled(shop, key)
        again = api.post({**body, "estimated_date": "2026-06-22"})
        assert again.status_code == 200 and again.json()["key"] == key
        assert shop.deliveries() == [key]
        refused = api.post({**body, "version": "14.21.3"})
        assert refused.status_code == 400 and refused.json()["field"] == "version"
        assert api.post({**body, "estimated_date": "soon"}).json()["field"] == "estimated_date"
        assert api.post({**body, "colour": "blue"}).json()["field"] == "colour"
        # The changed date was announced to the customer once, old and new.
        public = [adf_to_text(c["body"]) for c in shop.read(key)["fields"]["comment"]["comments"] if c["jsdPublic"]]
        assert len(public) == 1 and "from 15 June 2026 to 22 June 2026" in public[0]
    finally:
        api.close()


def test_two_racing_api_requests_leave_one_ticket(shop):
    api = RunningApi(shop)
    try:
        body = {"organisation": ACME, "version": "14.21.3.1"}
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(api.post(body))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(a.status_code for a in answers) == [200, 200, 201]
        assert len({a.json()["key"] for a in answers}) == 1 and len(shop.deliveries()) == 1
    finally:
        api.close()


def test_the_api_is_off_without_a_token(shop):
    api = RunningApi(shop, token=None)
    try:
        answer = api.post({"organisation": ACME, "version": "14.21.3.1"})
        assert answer.status_code == 503 and "JSM_AUTOPILOT_API_TOKEN" in answer.json()["error"]
    finally:
        api.close()


def manual_delivery(shop, organisation: str = ACME, version: str = "14.21.3.1") -> str:
    """A release manager creates the Delivery ticket in Jira, with organisation and version only."""
    return shop.site.create(reporter=AGENT, issue_type="Delivery", summary="Patch for Acme",
                            **{shop.settings.fields.organizations: [shop.org_ids[organisation]],
                               shop.settings.fields.delivery_version: version,
                               shop.settings.fields.estimated_delivery_date: "2026-06-15"})


@pytest.mark.parametrize("way", ["webhook", "sweep"])
def test_a_delivery_created_in_jira_is_filled_in_and_kept_current(shop, tmp_path, way):
    from tests.test_reclassify_end_to_end import WebhookPath

    path = WebhookPath(shop.site, tmp_path) if way == "webhook" else None

    def run():
        if path:
            path.drain()
        else:
            sweep_once(shop.site.client(), shop.settings)

    try:
        if path:
            path.drain()  # the tickets' own events first
        key = manual_delivery(shop)
        run()
        check_filled(shop, key)
        # A new ticket enters Delivery Pending; one goes back to In Progress.
        newcomer = shop.pending(ACME, "14.21.3.1", "Newcomer")
        shop.site.move(shop.keys["a2"], "In Progress")
        run()
        assert shop.linked_keys(key) == sorted([shop.keys["a1"], shop.keys["custom"], newcomer])
        rows = adf_table(shop.read(key))[1]
        assert [r[0] for r in rows[1:]] == [shop.keys["a1"], shop.keys["custom"], newcomer]
        # The release manager moves the date: the customer hears once, old and new.
        shop.edit(key, {shop.settings.fields.estimated_delivery_date: "2026-07-01"})
        run()
        run()
        public = [adf_to_text(c["body"]) for c in shop.read(key)["fields"]["comment"]["comments"] if c["jsdPublic"]]
        assert len(public) == 1 and "from 15 June 2026 to 1 July 2026" in public[0]
        notes = [adf_to_text(c["body"]) for c in shop.read(key)["fields"]["comment"]["comments"] if not c["jsdPublic"]]
        assert sum("delivery.create" in n for n in notes) == 1 and sum("delivery.refresh" in n for n in notes) == 1
        assert shop.deliveries() == [key]
    finally:
        if path:
            path.close()


def test_delivered_resolves_exactly_the_included_tickets_still_pending(shop):
    request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1"}, shop.settings)
    key = shop.create(request).key
    shop.site.move(shop.keys["a2"], "In Progress", by=AGENT)  # an agent takes one back, unnoticed by any refresh
    requests.post(f"{shop.site.url}/rest/api/3/issueLink", auth=(AGENT, "t"),
                  json={"type": {"name": "Relates"}, "inwardIssue": {"key": key}, "outwardIssue": {"key": shop.keys["other_version"]}}
                  ).raise_for_status()  # someone links a ticket of another version by hand
    shop.site.set_clock(T0 + timedelta(days=20))
    shop.site.move(key, "Delivered")
    report = sweep_once(shop.site.client(), shop.settings)
    assert report.failures == []
    status = {name: shop.read(k)["fields"]["status"]["name"] for name, k in shop.keys.items()}
    # A Customisation is closed once delivered (guide 3.5).
    assert status == {"a1": "Resolved", "a2": "In Progress", "custom": "Closed", "other_version": "Delivery Pending",
                      "muster": "Delivery Pending"}
    told = [adf_to_text(c["body"]) for c in shop.site.comments_by_bot(shop.keys["a1"], public=True)]
    assert len(told) == 1 and f"patch 14.21.3.1 ({key})" in told[0] and "after 50 days" in told[0]
    available = [adf_to_text(c["body"]) for c in shop.site.comments_by_bot(key, public=True)]
    assert len(available) == 1 and "available for download" in available[0]
    assert sweep_once(shop.site.client(), shop.settings).firings_applied == 0
    assert len(shop.site.comments_by_bot(shop.keys["a1"], public=True)) == 1


def test_stage_installation_resolves_and_installation_then_changes_nothing(shop):
    """Guide 3.7: installing "in the staging or production environment" resolves; the first counts."""
    request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1"}, shop.settings)
    key = shop.create(request).key
    shop.site.move(key, "Stage installation completed")
    sweep_once(shop.site.client(), shop.settings)
    sweep_once(shop.site.client(), shop.settings)
    told = [adf_to_text(c["body"]) for c in shop.site.comments_by_bot(shop.keys["a1"], public=True)]
    assert len(told) == 1 and "“Resolved”" in told[0]
    assert shop.read(shop.keys["a1"])["fields"]["status"]["name"] == "Resolved"
    assert shop.read(shop.keys["custom"])["fields"]["status"]["name"] == "Closed"
    shop.site.move(key, "Installation completed")
    assert sweep_once(shop.site.client(), shop.settings).firings_applied == 0
    assert len(shop.site.comments_by_bot(shop.keys["a1"], public=True)) == 1


def test_an_organisation_name_full_of_jql_injects_nothing(shop):
    hostile = 'Acme" OR project = "SD\\" AND status = Resolved ORDER BY key'
    shop.organisation(hostile)
    mine = shop.pending(hostile, "14.21.3.1", "Hostile but honest")
    result = shop.cli("--organisation", hostile, "--version", "14.21.3.1", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["included"] == [mine]
    assert shop.linked_keys(answer["key"]) == [mine]
    # Pasted in raw, the name would have matched every ticket (OR project = ...): nobody else was listed.
    assert all(shop.linked_keys(k) == [] for k in shop.keys.values())
    assert len(shop.deliveries()) == 1


def test_data_center_gets_the_same_delivery_in_wiki_markup(site_factory, tmp_path):
    site = site_factory(T0, deployment="datacenter")
    shop = DeliverySite(site, tmp_path)
    shop.organisation(ACME)
    a1 = shop.pending(ACME, "14.21.3.1", "Import | fails on *bold* names")
    custom = shop.pending(ACME, "CUSTOM", "Customer logo in header", issue_type="Customisation")
    result = shop.cli("--organisation", ACME, "--version", "14.21.3.1", "--estimated-date", "2026-06-15",
                      "--environment", "On premises")
    assert result.exit_code == 0, result.output
    key = shop.deliveries()[0]
    fields = shop.read(key)["fields"]
    assert fields["summary"] == "Delivery of Patch 14.21.3.1" and fields["status"]["name"] == "Planned"
    assert fields["description"] == (
        f"{HEADING}\n\n||Key||Request Type||Summary||\n"
        f"|{a1}|Software Defect|Import \\| fails on \\*bold\\* names|\n"
        f"|{custom}|Customisation|Customer logo in header|")
    assert fields["environment"] == "On premises" and fields[shop.settings.fields.estimated_delivery_date] == "2026-06-15"
    assert shop.linked_keys(key) == sorted([a1, custom])
    assert all(r["path"].startswith(("/rest/api/2/", "/rest/servicedeskapi/", "/rest/pat/", "/_sandbox")) for r in site.requests_made())
    again = shop.cli("--organisation", ACME, "--version", "14.21.3.1")
    assert again.exit_code == 0 and shop.deliveries() == [key]
    shop.store.dispose()


def test_progress_is_told_per_ticket_touched_and_drawn_as_a_bar_on_a_terminal(shop):
    import io

    from rich.console import Console

    from jsm_autopilot.cli.deliveries import ProgressBar

    heard = []
    client = shop.site.client()
    registry = DeliveryRegistry(shop.store, TicketGuard(shop.store, "bar"))
    request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1"}, shop.settings)
    create_or_update(client, shop.settings, Executor(client, shop.settings), registry, request,
                     progress=lambda done, total: heard.append((done, total)))
    assert heard == [(1, 3), (2, 3), (3, 3)]  # three tickets linked

    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=True, width=100), threshold=3)
    for done in range(1, 13):
        bar(done, 12)
    assert "12/12" in screen.getvalue()
    quiet = io.StringIO()
    small = ProgressBar(Console(file=quiet, force_terminal=True, width=100), threshold=5)
    small(1, 2)
    small(2, 2)
    assert quiet.getvalue() == ""
    piped = io.StringIO()
    ProgressBar(Console(file=piped, force_terminal=False), threshold=1)(1, 1)
    assert piped.getvalue() == ""


@pytest.mark.parametrize("applied", [True, False], ids=["created-answer-lost", "never-arrived"])
def test_a_creation_whose_answer_is_lost_makes_one_ticket(site_factory, tmp_path, applied):
    from jsm_autopilot.errors import DeliveryUncertain
    from tests.test_executor import LoseAnswers

    holder = {}

    def wrap(app):
        holder["middleware"] = LoseAnswers(app, "POST", "/rest/servicedeskapi/request", applied)
        holder["middleware"].tripped = True  # armed below, once the tickets exist
        return holder["middleware"]

    site = site_factory(T0, wrap=wrap)
    shop = DeliverySite(site, tmp_path)
    shop.organisation(ACME)
    included = shop.pending(ACME, "14.21.3.1", "Fix")
    holder["middleware"].tripped = False
    clock = {"now": T0}
    client = site.client()
    registry = DeliveryRegistry(shop.store, TicketGuard(shop.store, "one"), clock=lambda: clock["now"])
    request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1"}, shop.settings)

    def create():
        return create_or_update(client, shop.settings, Executor(client, shop.settings), registry, request)

    site.state.search_lag = timedelta(minutes=1)  # as on Cloud, a new issue reaches search a little later
    with pytest.raises(DeliveryUncertain):
        create()
    if applied:
        with pytest.raises(DeliveryUncertain):
            create()  # the ticket landed but search does not show it yet: making another would duplicate it
        site.set_clock(T0 + timedelta(minutes=3))
        clock["now"] = T0 + timedelta(minutes=3)
        result = create()  # now found, and filled in rather than made again
        assert result.created is False
    else:
        with pytest.raises(DeliveryUncertain):
            create()  # not found yet, and too soon to be sure it never landed
        assert shop.deliveries() == []
        site.set_clock(T0 + timedelta(minutes=3))
        clock["now"] = T0 + timedelta(minutes=3)
        result = create()
        assert result.created is True
    site.set_clock(T0 + timedelta(minutes=5))  # let search see everything
    assert shop.deliveries() == [result.key] and shop.linked_keys(result.key) == [included]
    shop.store.dispose()


def test_an_overdue_delivery_gets_one_note_and_a_maintenance_date_is_announced_once(shop):
    request = DeliveryRequest.parse({"organisation": ACME, "version": "14.21.3.1", "estimated_date": "2026-06-15"}, shop.settings)
    key = shop.create(request).key
    maintenance_field = shop.settings.fields.maintenance_date
    shop.site.set_clock(T0 + timedelta(days=2))
    shop.edit(key, {maintenance_field: "2026-06-20T22:00:00.000+0200"})
    for _ in range(2):
        sweep_once(shop.site.client(), shop.settings)
    announced = [adf_to_text(c["body"]) for c in shop.site.comments_by_bot(key, public=True)]
    assert len(announced) == 1 and "21 June 2026, 06:00 AEST" in announced[0]  # Acme reads Melbourne time
    # The estimated date passes while the delivery is still Planned: agents are asked, once.
    shop.site.set_clock(datetime(2026, 6, 16, 9, 0, tzinfo=timezone.utc))
    for _ in range(2):
        sweep_once(shop.site.client(), shop.settings)
    notes = [adf_to_text(c["body"]) for c in shop.site.comments_by_bot(key, public=False)]
    assert sum("delivery.overdue" in n for n in notes) == 1
    assert len(shop.site.comments_by_bot(key, public=True)) == 1


def test_a_missing_request_type_is_named(shop):
    settings = shop.settings.model_copy(update={"deliveries": shop.settings.deliveries.model_copy(update={"request_type": "Patch delivery"})})
    shop.site.settings = settings  # the app.yaml the CLI reads
    result = shop.cli("--organisation", ACME, "--version", "14.21.3.1")
    assert result.exit_code == 2 and "deliveries.request_type" in result.output and "Patch delivery" in result.output


def test_a_release_managers_machine_asks_the_running_service(shop):
    """`delivery create --service-url`: the service's store keeps the delivery unique; the
    release manager's machine needs no Jira credentials and keeps no store of its own."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    api = RunningApi(shop)
    try:
        service_url = api.url.rsplit("/api/deliveries", 1)[0]
        command = [str(Path(sys.executable).parent / "jsm-autopilot"), "delivery", "create", "--organisation", ACME,
                   "--version", "14.21.3.1", "--json", "--service-url", service_url, "--config", str(config_for(shop.site, shop.tmp_path))]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JIRA_", "JSM_AUTOPILOT_"))}
        env.update({"JSM_AUTOPILOT_API_TOKEN": "release-token", "XDG_STATE_HOME": str(shop.tmp_path / "no-store-here")})
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        answers = [json.loads(first.stdout), json.loads(again.stdout)]
        assert [a["created"] for a in answers] == [True, False] and answers[0]["key"] == answers[1]["key"]
        assert shop.deliveries() == [answers[0]["key"]]
        assert not (shop.tmp_path / "no-store-here").exists()
        refused = subprocess.run(command, env={**env, "JSM_AUTOPILOT_API_TOKEN": "wrong"}, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "bearer token" in refused.stderr
    finally:
        api.close()
