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


def verdicts(ticket, now, settings) -> list[dict]:
    """One entry per rule of the catalogue: `state` is fires | waits | due | idle | off."""
    from jsm_autopilot.rules import explain, hours
    from jsm_autopilot.rules.actions import Deferred
    from jsm_autopilot.rules.catalogue import RULES
    from jsm_autopilot.rules.wording import local_time

    found = []
    for rule in RULES:
        entry = {"rule": rule.id, "state": "off", "why": "switched off (rules.enabled in app.yaml, or the console)"}
        if not rule.implemented:
            entry = {"rule": rule.id, "state": "off", "why": "planned in PROCESS.md, not implemented yet"}
        elif settings.is_enabled(rule.id) and rule.function is None:
            why = ("shapes the others: what the customer sees waits for the region's working hours" if rule.shapes_others
                   else "decided with the Delivery ticket it concerns (see `sweep`)")
            entry = {"rule": rule.id, "state": "idle", "why": why}
        elif settings.is_enabled(rule.id):
            actions = hours.within_hours(rule.function(ticket, now, settings), ticket.organisation, now, settings)
            waiting = [a for a in actions if isinstance(a, Deferred)]
            if waiting:
                entry = {"rule": rule.id, "state": "waits", "why": waiting[0].reason,
                         "not_before": waiting[0].not_before.isoformat()}
            elif actions:
                shadow = "shadow only, kept and not written: " if settings.is_shadow_only(rule.id) else ""
                entry = {"rule": rule.id, "state": "fires", "why": shadow + actions[0].reason}
            else:
                due = rule.due_at(ticket, now, settings) if rule.due_at is not None else None
                more = explain.detail(rule.id, ticket, now, settings)
                elsewhere = explain.not_in_status(rule.candidate_statuses(settings), ticket) if rule.candidate_statuses else None
                if due is not None and due > now:
                    entry = {"rule": rule.id, "state": "due", "why": f"not yet, due {local_time(due, settings)}"
                             + (f" ({more})" if more else ""), "due": due.isoformat()}
                elif elsewhere or more:
                    entry = {"rule": rule.id, "state": "idle", "why": elsewhere or more}
                else:
                    what = rule.describe(settings) if rule.describe is not None else rule.summary
                    entry = {"rule": rule.id, "state": "idle", "why": f"nothing to do now; it acts on: {what}"}
        found.append(entry)
    return found


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
    found = verdicts(ticket, now, settings)
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    click.echo(f"{key} ({ticket.type}, {ticket.status}) at {now.isoformat()}:")
    for entry in found:
        click.echo(f"  {entry['rule']:<24} {entry['state']:<6} {entry['why']}")
    sys.exit(0)
