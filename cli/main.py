"""`jsm-autopilot` command line. Exit statuses: 0 success; 1 something failed that the same run,
later, may get past (Jira away after retries, another sweep running, some tickets failed); 2
something must be fixed first (app.yaml, the environment, a flag or file, the store's location, a
request Jira refuses); 130 interrupted. Errors of the tree map to them in cli.common only."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
from rich.table import Table

from jsm_autopilot.cli.common import (
    BAD_INPUT,
    AutomationGroup,
    config_option,
    describe_action,
    fail,
    issues_from_file,
    make_console,
    open_store,
    parse_instant,
    site_settings,
    with_rule_overrides,
)
from jsm_autopilot.config.loader import default_config_path
from jsm_autopilot.config.settings import Settings


@click.group(cls=AutomationGroup, context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(package_name="jsm-autopilot", prog_name="jsm-autopilot", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Runs a Jira Service Management project's service-desk process."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        click.echo("\nNew here? Start with `jsm-autopilot demo`: the service against a sandbox, rules firing as they happen.")
        ctx.exit(0)


def run() -> None:
    """Console-script entry: the group with every command module registered."""
    from jsm_autopilot.cli.commands import cli

    cli()


@main.command()
@config_option
def check(config: Path | None) -> None:
    """Validate app.yaml and summarise which rules are on, with their numbers."""
    from jsm_autopilot.rules.catalogue import RULES

    store = open_store(missing_ok=True)
    settings, overrides = with_rule_overrides(site_settings(config), store)
    console = make_console()
    path = config or default_config_path()
    console.print(
        f"{path}: valid. Project {settings.project.key} on {settings.project.deployment}, "
        f"days counted in {settings.project.timezone}."
    )
    on = [rule for rule in RULES if rule.implemented and settings.is_enabled(rule.id)]
    off = [rule.id for rule in RULES if rule.implemented and not settings.is_enabled(rule.id)]
    pending = [rule.id for rule in RULES if not rule.implemented]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("rule", no_wrap=True, style="bold")
    table.add_column("what it does on this site")
    for rule in on:
        table.add_row(rule.id, rule.describe(settings) if rule.describe else rule.summary)
    console.print(f"Rules on ({len(on)}):")
    console.print(table)
    console.print(f"Rules off ({len(off)}): {', '.join(off) or 'none'}")
    shadow = [rule_id for rule_id in settings.rules.shadow if settings.is_enabled(rule_id)]
    console.print(f"Shadow only, kept and not written ({len(shadow)}): {', '.join(shadow) or 'none'}")
    console.print(f"Console overrides of app.yaml ({len(overrides)}): {'; '.join(overrides) or 'none'}", markup=False)
    web = settings.console
    if web.enabled:
        console.print(f"Console on at {(web.public_url or '').rstrip('/')}/console/ (sign-in: {settings.console_sign_in}; admins: "
                      f"{', '.join(web.admins) or 'none'}; release managers: {', '.join(web.release_managers) or 'none'})", markup=False)
    else:
        console.print("Console off (console.enabled: false)")
    console.print(f"Planned, not implemented yet ({len(pending)}): {', '.join(pending) or 'none'}")
    from jsm_autopilot.connector.oncall import environment_gaps

    for gap in environment_gaps(settings):
        console.print(f"warning: {gap}", style="yellow", markup=False)
    languages = sorted({o.language for o in settings.organisations.values()} | {settings.language.default})
    console.print(
        f"Customer comments in {', '.join(languages)} (default {settings.language.default}); "
        f"{len(settings.organisations)} organisation(s) configured; "
        f"templates: {settings.templates.directory or 'shipped wording'}."
    )
    today = datetime.now(timezone.utc).date()
    for name in settings.regions:
        calendar = settings.calendar_of(name)
        default = " (default region)" if name == settings.service_hours.default_region else ""
        console.print(f"Region {name}{default}: {calendar.describe_hours()}")
        upcoming = "; ".join(f"{day:%a %Y-%m-%d} {holiday}" for day, holiday in calendar.next_holidays(today))
        console.print(f"  next holidays: {upcoming or 'none'}", markup=False)


@main.command()
@click.option("--issues", "issues_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A saved POST /rest/api/3/search/jql response (expand=changelog).")
@click.option("--at", "at", required=True, help="The moment to evaluate at, ISO-8601 with a zone, or 'now'.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per action.")
@config_option
def plan(issues_file: Path, at: str, as_json: bool, config: Path | None) -> None:
    """Show what the rules would do to saved issues at a given time. Reads no network."""
    from jsm_autopilot.connector.mapping import ticket_from_issue_json
    from jsm_autopilot.errors import IssueMappingError
    from jsm_autopilot.rules.catalogue import evaluate

    try:
        now = parse_instant(at)
    except click.BadParameter as error:
        fail(f"--at: {error.message}")
    settings, _ = with_rule_overrides(site_settings(config), open_store(missing_ok=True))
    raw_issues = issues_from_file(issues_file)
    tickets, problems = [], []
    for raw in raw_issues:
        try:
            tickets.append(ticket_from_issue_json(raw, settings))
        except IssueMappingError as error:
            problems.append(str(error))
    if problems:
        for problem in problems:
            click.echo(f"{issues_file}: {problem}", err=True)
        sys.exit(BAD_INPUT)
    actions = [action for ticket in tickets for action in evaluate(ticket, now, settings)]
    if as_json:
        click.echo(json.dumps([a.as_json() for a in actions], indent=2, ensure_ascii=False))
        return
    _print_plan(actions, tickets, now, settings)


def _print_plan(actions, tickets, now: datetime, settings: Settings) -> None:
    console = make_console()
    local = now.astimezone(settings.project.zone)
    touched = len({a.issue for a in actions})
    console.print(
        f"At {local:%Y-%m-%d %H:%M %Z}: {len(actions)} action(s) on {touched} of {len(tickets)} ticket(s)."
    )
    if not actions:
        return
    # One row per firing (issue and rule): its actions share one reason.
    firings: dict[tuple[str, str], list] = {}
    for action in actions:
        firings.setdefault((action.issue, action.rule), []).append(action)
    table = Table(show_header=True, header_style="bold", show_lines=True)
    table.add_column("issue", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("does")
    table.add_column("why")
    for (issue, rule), group in firings.items():
        table.add_row(issue, rule, "\n".join(describe_action(a) for a in group), group[0].reason)
    console.print(table)


