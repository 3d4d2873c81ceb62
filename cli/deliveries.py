"""`jsm-autopilot delivery create`: the release manager's way to a Delivery ticket."""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from jsm_autopilot.cli.common import (
    BAD_INPUT,
    SOME_FAILED,
    config_option,
    describe_action,
    fail,
    jira_client,
    make_console,
    open_store,
    site_settings,
    with_rule_overrides,
)
from jsm_autopilot.cli.main import main

# Below this many tickets a delivery is done before a bar would be worth drawing.
PROGRESS_FROM = 5


class ProgressBar:
    """A bar on stderr while a delivery writes to many tickets; nothing when not on a terminal."""

    def __init__(self, console: Console, threshold: int = PROGRESS_FROM):
        self.console, self.threshold = console, threshold
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if total < self.threshold or not self.console.is_terminal:
            return
        if self.progress is None:
            self.progress = Progress(TextColumn("tickets"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                     console=self.console, transient=False)
            self.progress.start()
            self.task = self.progress.add_task("delivery", total=total)
        self.progress.update(self.task, completed=done)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


@main.group()
def delivery() -> None:
    """Delivery tickets: what a patch for a customer contains."""


@delivery.command("create")
@click.option("--organisation", required=True, help="The JSM organisation (customer), exactly as named in Jira.")
@click.option("--version", "version", required=True, help="The patch version, e.g. 14.21.3.1.")
@click.option("--estimated-date", default=None, help="Estimated delivery date, YYYY-MM-DD.")
@click.option("--docs", multiple=True, metavar="URL", help="A documentation link; repeat for several.")
@click.option("--environment", default=None, help="The environment the patch goes to, e.g. 'Dedicated Cloud'.")
@click.option("--dry-run", is_flag=True, help="Show what would be created or changed; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--service-url", envvar="JSM_AUTOPILOT_SERVICE_URL", default=None,
              help="The running service (e.g. https://autopilot.example.com): ask it, through POST /api/deliveries with "
                   "$JSM_AUTOPILOT_API_TOKEN, instead of talking to Jira from here. The way for a release manager's machine.")
@config_option
def create(organisation: str, version: str, estimated_date: str | None, docs: tuple[str, ...], environment: str | None,
           dry_run: bool, as_json: bool, service_url: str | None, config: Path | None) -> None:
    """Create the Delivery ticket of a patch for an organisation, or update the one that exists.

    It lists the organisation's Delivery Pending tickets of that version and those marked CUSTOM,
    links them, and is kept current by the service while it is Planned. Running it again updates
    the same ticket. Uses the service's store ($JSM_AUTOPILOT_DB) so that concurrent runs, the API
    and the service never create two. Exits 0 on success, 1 when Jira was away or an earlier
    creation may have landed (run again later), 2 on bad input or a request Jira refuses (4xx).
    """
    from jsm_autopilot.connector.deliveries import DeliveryRegistry, DeliveryRequest, create_or_update
    from jsm_autopilot.connector.executor import Executor
    from jsm_autopilot.errors import DeliveryRequestError
    from jsm_autopilot.service.guard import TicketGuard
    from jsm_autopilot.service.shadow import ShadowLog

    settings = site_settings(config)
    data = {"organisation": organisation, "version": version, "docs": list(docs)}
    if estimated_date is not None:
        try:
            data["estimated_date"] = date.fromisoformat(estimated_date)
        except ValueError:
            fail(f"--estimated-date: {estimated_date!r} is not a date (YYYY-MM-DD)")
    if environment is not None:
        data["environment"] = environment
    try:
        request = DeliveryRequest.parse(data, settings)
    except DeliveryRequestError as error:
        fail(f"--{error.field.replace('_', '-')}: {error.problem}")
    if service_url is not None:
        _through_the_service(service_url, data, dry_run, as_json)
    store = open_store(create=True, write=True)  # before Jira: a local problem says so first
    settings, _ = with_rule_overrides(settings, store)  # a delivery rule switched off in the console stays off
    client = jira_client(settings)
    from jsm_autopilot.service.identity import process_name

    holder = f"{process_name()}-cli"
    guard = TicketGuard(store, holder)
    registry = DeliveryRegistry(store, TicketGuard(store, holder, wait=guard.wait * 4))
    bar = ProgressBar(Console(stderr=True))
    try:
        executor = Executor(client, settings)
        shadow_log = ShadowLog(store, lambda: datetime.now(timezone.utc))
        executor.on_shadow = lambda actions: shadow_log.record(actions, "cli")
        result = create_or_update(client, settings, executor, registry, request, guard=guard,
                                  dry_run=dry_run, progress=None if as_json else bar)
    except DeliveryRequestError as error:
        # A field of the request names its option; a dotted one is an app.yaml key.
        where = error.field if "." in error.field else f"--{error.field.replace('_', '-')}"
        fail(f"{where}: {error.problem}")
    finally:
        bar.close()
        store.dispose()
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False, default=str))
        sys.exit(SOME_FAILED if result.failures else 0)
    console = make_console()
    listed = ", ".join(result.included) or "no tickets yet"
    if dry_run:
        what = "Would create a Delivery ticket" if result.key is None else f"Would update {result.key}"
        console.print(f"{what} of patch {version} for {organisation}: {len(result.included)} ticket(s): {listed}")
        for action in result.actions:
            console.print(f"  {action.issue:<10} {action.rule:<22} {describe_action(action)}")
    else:
        verb = "Created" if result.created else "Updated"
        console.print(f"{verb} {result.key}: Delivery of patch {version} for {organisation}, {len(result.included)} ticket(s): {listed}")
        for failure in result.failures:
            console.print(f"failed: {failure}")
    sys.exit(SOME_FAILED if result.failures else 0)


def _through_the_service(service_url: str, data: dict, dry_run: bool, as_json: bool) -> None:
    """Ask the running service, which holds the one store that keeps deliveries unique."""
    import requests

    from jsm_autopilot.service.api import API_TOKEN_ENVIRONMENT_VARIABLE

    token = os.environ.get(API_TOKEN_ENVIRONMENT_VARIABLE)
    if not token:
        fail(f"delivery create: --service-url needs the service's API token in {API_TOKEN_ENVIRONMENT_VARIABLE}")
    body = {**data, "dry_run": dry_run}
    if "estimated_date" in body:
        body["estimated_date"] = body["estimated_date"].isoformat()
    url = f"{service_url.rstrip('/')}/api/deliveries"
    try:
        answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=300)
    except requests.RequestException as error:
        click.echo(f"delivery create: no answer from {url}: {type(error).__name__}", err=True)
        sys.exit(SOME_FAILED)
    try:
        result = answer.json()
    except ValueError:
        click.echo(f"delivery create: {url} answered {answer.status_code} without JSON; is it jsm-autopilot?", err=True)
        sys.exit(SOME_FAILED)
    if answer.status_code in (400, 401, 503) and "error" in result:
        where = f"--{result['field'].replace('_', '-')}: " if result.get("field") else ""
        code = BAD_INPUT if answer.status_code in (400, 401) else SOME_FAILED
        click.echo(f"delivery create: {where}{result['error']} ({answer.status_code} from {url})", err=True)
        sys.exit(code)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    elif "error" in result:
        click.echo(f"delivery create: {result['error']} ({answer.status_code})", err=True)
    else:
        verb = "Would create or update" if result.get("dry_run") else "Created" if result.get("created") else "Updated"
        listed = ", ".join(result.get("included") or []) or "no tickets yet"
        click.echo(f"{verb} {result.get('key') or 'a Delivery ticket'} through {service_url}: {len(result.get('included') or [])} "
                   f"ticket(s): {listed}")
    sys.exit(0 if answer.status_code < 300 else SOME_FAILED)
