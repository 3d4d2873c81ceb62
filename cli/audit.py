"""`jsm-autopilot audit` and `events show ID`: what fired, from the store that `serve` writes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from jsm_autopilot.cli.common import (
    config_option,
    fail,
    jira_client,
    open_store,
    parse_instant,
    site_settings,
)
from jsm_autopilot.cli.live import events
from jsm_autopilot.cli.main import main

# webhooks.audit.OUTCOMES, written out: importing the store would slow every command's start.
OUTCOME_CHOICES = click.Choice(["applied", "partial", "failed", "skipped", "uncertain"])


def _since(text: str | None) -> datetime | None:
    """An ISO-8601 time, or a duration back from now (`2h`, `1d`, `1w`)."""
    if text is None:
        return None
    from jsm_autopilot.config.durations import Duration

    try:
        return datetime.now(timezone.utc) - Duration.parse(text).nominal
    except ValueError:
        pass
    try:
        return parse_instant(text)
    except click.BadParameter as error:
        fail(f"--since: {error.message}, or a duration back from now like 2h or 1d")


def _print(firings: list, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([f.as_json() for f in firings], indent=2, ensure_ascii=False))
        return
    if not firings:
        click.echo("No firings.")
    for f in firings:
        click.echo(f"{f.at:%Y-%m-%d %H:%M:%S} UTC  {f.issue:<10} {f.rule:<24} {f.outcome:<8} {f.source}")
        click.echo(f"{'':<25}{f.reason}" + (f"\n{'':<25}Jira: {f.error}" if f.error else ""))


@main.command()
@click.option("--since", default=None, help="ISO-8601 time, or how long back (2h, 1d, 1w).")
@click.option("--rule", default=None, help="Only this rule id.")
@click.option("--issue", default=None, help="Only this ticket.")
@click.option("--outcome", type=OUTCOME_CHOICES, default=None)
@click.option("--json", "as_json", is_flag=True, help="A JSON array: at, issue, rule, outcome, reason, error, source.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--from-jira", is_flag=True, help="Also read the firing logs on the tickets (updated since --since, default "
                                               "7 days, or --issue) and add what the store does not know.")
@config_option
def audit(since: str | None, rule: str | None, issue: str | None, outcome: str | None, as_json: bool, limit: int,
          from_jira: bool, config: Path | None) -> None:
    """What fired, across all tickets, newest first: when, ticket, rule, reason, outcome, cause."""
    from jsm_autopilot.store.audit import AuditTrail, only_in_firing_logs

    store = open_store()
    if not as_json:
        click.echo(f"store: {store.location}", err=True)
    after = _since(since)
    firings = AuditTrail(store).list(after, rule, issue, outcome, limit=limit)
    if from_jira:
        logged = [entry for entry in _firing_logs(config, issue, after or datetime.now(timezone.utc) - timedelta(days=7))
                  if (rule is None or entry[1] == rule) and (after is None or entry[2] >= after)]
        # Against all the store knows of them, whatever --outcome and --limit show.
        added = only_in_firing_logs(AuditTrail(store).list(after, rule, issue, limit=100_000), logged)
        if outcome in (None, "applied"):
            firings = sorted(firings + added, key=lambda f: f.at, reverse=True)[:limit]
    _print(firings, as_json)


def _firing_logs(config: Path | None, issue: str | None, updated_after: datetime) -> list[tuple[str, str, datetime, str]]:
    """(issue, rule, at, stage) of every entry in the firing logs of the tickets concerned."""
    from jsm_autopilot.connector.jql import jql_string
    from jsm_autopilot.connector.mapping import firings_of
    from jsm_autopilot.errors import IssueMappingError

    settings = site_settings(config)
    client = jira_client(settings)
    jql = f"project = {jql_string(settings.project.key)} AND " + (
        f"key = {jql_string(issue)}" if issue else f'updated >= "{client.jql_time(updated_after)}"')
    entries = []
    for found in client.search(jql + " ORDER BY key ASC", ["summary"], properties=[settings.automation.property_key]):
        try:
            entries += [(found["key"], f.rule, f.at, f.stage) for f in firings_of(found, settings)]
        except IssueMappingError as unreadable:
            click.echo(f"audit: {unreadable} (left out)", err=True)
    return entries


@events.command("show")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True)
def show(identifier: str, as_json: bool) -> None:
    """One stored event: its outcome, and the firings it caused."""
    from jsm_autopilot.store.audit import AuditTrail

    store = open_store()
    found = next((e for e in store.list_events(limit=100_000) if e.identifier == identifier), None)
    if found is None:
        fail(f"events show: no event {identifier!r} in {store.location}")
    firings = AuditTrail(store).list(source=f"webhook:{identifier}")
    if as_json:
        click.echo(json.dumps({**found.as_json(), "firings": [f.as_json() for f in firings]}, indent=2, ensure_ascii=False))
        return
    event = found.as_json()
    click.echo(f"{event['identifier']}  {event['event']}  {event['issue'] or '-'}  {event['status']}  received {event['received']}"
               + (f"\n  error: {event['error']}" if event["error"] else ""))
    _print(firings, False)
