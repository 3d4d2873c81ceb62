"""What the commands share: app.yaml, the store and Jira's client as every command opens them,
the exit statuses and one-line messages for the error tree (here only), the output console, the
`--config` option. Commands import it; none imports another command module's helpers."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from jsm_autopilot.config.environment import jira_credentials
from jsm_autopilot.config.loader import default_config_path, load_settings
from jsm_autopilot.config.settings import Settings
from jsm_autopilot.errors import (
    AutomationError,
    Busy,
    CallFailed,
    InputError,
    JiraError,
    JiraRefused,
    NotifyFailed,
    SettingsError,
    SetUpError,
    SiteNotReached,
    StoreUnavailable,
)

SOME_FAILED = 1  # something failed that the same run, later, may get past (Jira away, a lock held)
BAD_INPUT = 2  # something must be fixed first: app.yaml, the environment, a flag, a file, the request
INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command ended by Ctrl-C

# The error tree (jsm_autopilot.errors) as exit statuses: the first class an error is an instance of
# decides. A test checks that every class of the tree has one.
EXIT_STATUS: tuple[tuple[type[AutomationError], int], ...] = (
    (JiraRefused, BAD_INPUT),  # Jira will answer the same until something changes
    (CallFailed, SOME_FAILED),  # Jira away (after retries), or the on-call channel
    (NotifyFailed, SOME_FAILED),
    (Busy, SOME_FAILED),
    (SetUpError, BAD_INPUT),
    (InputError, BAD_INPUT),
    (StoreUnavailable, BAD_INPUT),  # where the store is, or its schema: local set-up
)


def exit_status(error: AutomationError) -> int:
    return next((status for kind, status in EXIT_STATUS if isinstance(error, kind)), SOME_FAILED)


def error_lines(command: str, error: AutomationError) -> list[str]:
    """What a command prints for an error: one line naming the command, or for app.yaml the file
    and one line per problem, each naming its key."""
    if isinstance(error, SettingsError):
        return [f"{error.source}: {len(error.problems)} problem(s)", *(f"  {problem}" for problem in error.problems)]
    return [f"{command}: {error}"]


def _exit_for(ctx: click.Context, error: AutomationError) -> NoReturn:
    # The path without the program's own name: "webhook list", "sweep".
    command = " ".join(ctx.command_path.split()[1:]) or ctx.command_path
    for line in error_lines(command, error):
        click.echo(line, err=True)
    sys.exit(exit_status(error))


class AutomationCommand(click.Command):
    """A command whose errors from the tree end it with their one-line message and exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AutomationError as error:
            _exit_for(ctx, error)


class AutomationGroup(click.Group):
    """The group of every command: its commands and subgroups report the error tree alike."""

    command_class = AutomationCommand
    group_class = type  # subgroups are AutomationGroups too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AutomationError as error:  # raised by the group's own callback
            _exit_for(ctx, error)


def site_settings(config: Path | str | None) -> Settings:
    """app.yaml as every command and the service start from: validated, and its rule switches
    checked against the catalogue (the settings package itself knows no rules)."""
    from jsm_autopilot.rules.catalogue import switch_problems, with_switches

    settings = load_settings(config)
    problems = switch_problems(settings.rules.enabled, settings.rules.shadow)
    if problems:
        raise SettingsError(str(config if config is not None else default_config_path()), problems)
    return with_switches(settings)


def with_rule_overrides(settings: Settings, store) -> tuple[Settings, list[str]]:
    """app.yaml plus the console's rule overrides kept in `store` (None: app.yaml alone), and the
    overrides in force in words. What is wrong with them is printed as a warning."""
    if store is None:
        return settings, []
    from jsm_autopilot.service.rule_switches import RuleSwitches

    switches = RuleSwitches(store)
    settings = switches.apply(settings)
    for problem in switches.problems:
        click.echo(f"warning: {problem}", err=True)
    return settings, switches.described()


def fail(message: str) -> NoReturn:
    """Bad input the command found itself (a flag, a file): the message, exit 2."""
    click.echo(message, err=True)
    sys.exit(BAD_INPUT)


def open_store(create: bool = False, write: bool = False, missing_ok: bool = False):
    """The store `serve` writes to ($JSM_AUTOPILOT_DB). A command that only reads never makes one
    (`create=False`; with `missing_ok`, None when there is none); one that writes (`write=True`)
    learns here, before it does anything, that it cannot: StoreUnavailable naming the path,
    JSM_AUTOPILOT_DB and the fix."""
    from jsm_autopilot.errors import StoreMissing
    from jsm_autopilot.store.event_store import EventStore

    try:
        store = EventStore(create=create)
    except StoreMissing:
        if missing_ok:
            return None
        raise
    store.migrate()
    if write:
        store.require_writable(datetime.now(timezone.utc))
    return store


config_option = click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="app.yaml to use (default: $JSM_AUTOPILOT_CONFIG, else ./app.yaml).",
)


def parse_instant(text: str) -> datetime:
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 date-time (e.g. 2026-11-20T09:00:00+01:00)") from None
    if instant.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no time zone; add one, e.g. +01:00 or Z")
    return instant


def issues_from_file(path: Path) -> list:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        fail(f"{path}: cannot read it: {error.strerror or error}")
    except json.JSONDecodeError as error:
        fail(f"{path}: not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}")
    if not isinstance(document, dict) or not isinstance(document.get("issues"), list):
        fail(f'{path}: expected a search/jql response, {{"issues": [...]}}')
    return document["issues"]


def make_console() -> Console:
    # Piped into a file or a pager, keep each reason on one line rather than wrap it at 80.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def describe_action(action) -> str:
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


def jira_client(settings, budget_seconds: float = 120, reach: bool = True):
    """The Jira client from the environment's credentials, once the site answers (within 15 s):
    else CredentialsError naming what is missing, or SiteNotReached naming the variables of the
    credentials Jira refused, or the URL and why it does not answer as Jira."""
    from jsm_autopilot.connector.client import JiraClient

    client = JiraClient(jira_credentials(), settings.project.deployment, budget_seconds=budget_seconds)
    if reach:
        try:
            client.reach()
        except JiraError as error:
            raise SiteNotReached(error.answer + ("" if error.status == 401 else "; check JIRA_URL"), error.status,
                                 error.answer) from error
    return client
