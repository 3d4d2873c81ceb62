"""`jsm-autopilot audit` and `events show ID`: what fired, from the store that `serve` writes."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from cli.live import _store_or_exit, events
from cli.main import _fail, _parse_instant, main

OUTCOME_CHOICES = click.Choice(["applied", "partial", "failed", "skipped"])


def _since(text: str | None) -> datetime | None:
    """An ISO-8601 time, or a duration back from now (`2h`, `1d`, `1w`)."""
    if text is None:
        return None
    from config.durations import Duration

    try:
        return datetime.now(timezone.utc) - Duration.parse(text).nominal
    except ValueError:
        pass
    try:
        return _parse_instant(text)
    except click.BadParameter as error:
        _fail(f"--since: {error.message}, or a duration back from now like 2h or 1d")


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
def audit(since: str | None, rule: str | None, issue: str | None, outcome: str | None, as_json: bool, limit: int) -> None:
    """What fired, across all tickets, newest first: when, ticket, rule, reason, outcome, cause."""
    from webhooks.audit import AuditTrail

    store = _store_or_exit("audit")
    if not as_json:
        click.echo(f"store: {store.location}", err=True)
    _print(AuditTrail(store).list(_since(since), rule, issue, outcome, limit=limit), as_json)


@events.command("show")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True)
def show(identifier: str, as_json: bool) -> None:
    """One stored event: its outcome, and the firings it caused."""
    from webhooks.audit import AuditTrail

    store = _store_or_exit("events show")
    found = next((e for e in store.list_events(limit=100_000) if e.identifier == identifier), None)
    if found is None:
        _fail(f"events show: no event {identifier!r} in {store.location}")
    firings = AuditTrail(store).list(source=f"webhook:{identifier}")
    if as_json:
        click.echo(json.dumps({**found.as_json(), "firings": [f.as_json() for f in firings]}, indent=2, ensure_ascii=False))
        return
    event = found.as_json()
    click.echo(f"{event['identifier']}  {event['event']}  {event['issue'] or '-'}  {event['status']}  received {event['received']}"
               + (f"\n  error: {event['error']}" if event["error"] else ""))
    _print(firings, False)
