"""`jsm-autopilot why KEY [--at WHEN]`: for one live ticket, every rule and what it does now.

The answer an agent wants when nothing happened ("why was no reminder sent?"): each enabled rule
either fires now (with its reason), waits for the desk's working hours, falls due later by time
alone (when), or waits for a change in Jira (what the rule looks for)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jsm_autopilot.cli.common import (
    config_option,
    fail,
    jira_client,
    open_store,
    parse_instant,
    site_settings,
    with_rule_overrides,
)
from jsm_autopilot.cli.main import main
from jsm_autopilot.cli.models import with_learned_triage


@main.command()
@click.argument("key")
@click.option("--at", "at", default=None, help="Decide as at this ISO-8601 time instead of the site's serverTime.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array: rule, state, why (and due or not_before).")
@config_option
def why(key: str, at: str | None, as_json: bool, config: Path | None) -> None:
    """For one ticket, whether each rule fires now, and if not, why not and when it will."""
    from jsm_autopilot.connector.reading import read_ticket
    from jsm_autopilot.webhooks.delivery import ISSUE_KEY

    if not ISSUE_KEY.fullmatch(key):
        fail(f"why: {key!r} is not a Jira issue key like SD-12")
    store = open_store(missing_ok=True)
    settings, _ = with_rule_overrides(with_learned_triage(site_settings(config), store), store)
    client = jira_client(settings)
    try:
        now = parse_instant(at) if at else client.server_time()
    except click.BadParameter as error:
        fail(f"--at: {error.message}")
    _, ticket = read_ticket(client, settings, key)
    from jsm_autopilot.rules.verdicts import verdicts

    found = verdicts(ticket, now, settings)
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    click.echo(f"{key} ({ticket.type}, {ticket.status}) at {now.isoformat()}:")
    for entry in found:
        click.echo(f"  {entry['rule']:<24} {entry['state']:<6} {entry['why']}")
    sys.exit(0)
