"""`jsm-autopilot` command line. Exit codes: 0 success, 2 bad input (settings, files, flags)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from jsm_autopilot.config.loader import SettingsError, default_config_path, load_settings
from jsm_autopilot.config.settings import Settings

BAD_INPUT = 2


def _settings_or_exit(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except SettingsError as error:
        click.echo(f"{error.source}: {len(error.problems)} problem(s)", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(BAD_INPUT)


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(BAD_INPUT)


def _store_or_exit(command: str = "events", create: bool = False, write: bool = False, missing_ok: bool = False):
    """The store `serve` writes to ($JSM_AUTOPILOT_DB). A command that only reads never makes one
    (`create=False`; with `missing_ok`, None when there is none); one that writes (`write=True`)
    learns here, before it does anything, that it cannot: exit 2 with one line naming the path,
    JSM_AUTOPILOT_DB and the fix."""
    from jsm_autopilot.store.event_store import EventStore, StoreMissing, StoreUnavailable

    try:
        store = EventStore(create=create)
        store.migrate()
        if write:
            store.require_writable(datetime.now(timezone.utc))
        return store
    except StoreUnavailable as error:
        if missing_ok and isinstance(error, StoreMissing):
            return None
        _fail(f"{command}: {error}")


config_option = click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="app.yaml to use (default: $JSM_AUTOPILOT_CONFIG, else ./app.yaml).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
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
    import jsm_autopilot.cli.live  # noqa: F401  (registers sweep and sandbox)
    import jsm_autopilot.cli.deliveries  # noqa: F401  (registers delivery)
    import jsm_autopilot.cli.confirm  # noqa: F401  (registers confirm)
    import jsm_autopilot.cli.triage  # noqa: F401  (registers triage)
    import jsm_autopilot.cli.why  # noqa: F401  (registers why)
    import jsm_autopilot.cli.audit  # noqa: F401  (registers audit and events show)

    main()


@main.command()
@config_option
def check(config: Path | None) -> None:
    """Validate app.yaml and summarise which rules are on, with their numbers."""
    from jsm_autopilot.rules.catalogue import RULES

    settings = _settings_or_exit(config)
    console = _console()
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


def _parse_instant(text: str) -> datetime:
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 date-time (e.g. 2026-11-20T09:00:00+01:00)") from None
    if instant.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no time zone; add one, e.g. +01:00 or Z")
    return instant


def _issues_from_file(path: Path) -> list:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        _fail(f"{path}: cannot read it: {error.strerror or error}")
    except json.JSONDecodeError as error:
        _fail(f"{path}: not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}")
    if not isinstance(document, dict) or not isinstance(document.get("issues"), list):
        _fail(f'{path}: expected a search/jql response, {{"issues": [...]}}')
    return document["issues"]


@main.command()
@click.option("--issues", "issues_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A saved POST /rest/api/3/search/jql response (expand=changelog).")
@click.option("--at", "at", required=True, help="The moment to evaluate at, ISO-8601 with a zone, or 'now'.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per action.")
@config_option
def plan(issues_file: Path, at: str, as_json: bool, config: Path | None) -> None:
    """Show what the rules would do to saved issues at a given time. Reads no network."""
    from jsm_autopilot.connector.mapping import IssueMappingError, ticket_from_issue_json
    from jsm_autopilot.rules.catalogue import evaluate

    try:
        now = _parse_instant(at)
    except click.BadParameter as error:
        _fail(f"--at: {error.message}")
    settings = _settings_or_exit(config)
    raw_issues = _issues_from_file(issues_file)
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


def _console() -> Console:
    # Piped into a file or a pager, keep each reason on one line rather than wrap it at 80.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _print_plan(actions, tickets, now: datetime, settings: Settings) -> None:
    console = _console()
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
        table.add_row(issue, rule, "\n".join(_describe_action(a) for a in group), group[0].reason)
    console.print(table)


def _describe_action(action) -> str:
    if action.kind == "public_comment":
        return f"public comment ({action.language})"
    if action.kind == "transition":
        return f"→ {action.to_status}"
    if action.kind == "internal_comment":
        return "internal note"
    if action.kind == "field_change":
        return f"set {action.field}"
    if action.kind == "issue_link":
        return f"{'link' if action.add else 'unlink'} {action.other}"
    if action.kind == "deferred":
        return f"waits until {action.not_before.isoformat(timespec='minutes')}"
    return action.kind.replace("_", " ")
