"""What the commands share: reading app.yaml, the store and Jira's client or exiting with one line,
the exit codes, the output console, the `--config` option. Commands import it; none imports
another command module's helpers."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
from rich.console import Console

from jsm_autopilot.config.environment import CredentialsError, jira_credentials
from jsm_autopilot.config.loader import (
    SettingsError,
    default_config_path,
    load_settings,
)
from jsm_autopilot.config.settings import Settings

BAD_INPUT = 2


def site_settings(config: Path | str | None) -> Settings:
    """app.yaml as every command and the service start from: validated, and its rule switches
    checked against the catalogue (the settings package itself knows no rules)."""
    from jsm_autopilot.rules.catalogue import switch_problems, with_switches

    settings = load_settings(config)
    problems = switch_problems(settings.rules.enabled)
    if problems:
        raise SettingsError(str(config if config is not None else default_config_path()), problems)
    return with_switches(settings)


def settings_or_exit(config: Path | None) -> Settings:
    try:
        return site_settings(config)
    except SettingsError as error:
        click.echo(f"{error.source}: {len(error.problems)} problem(s)", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(BAD_INPUT)


def fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(BAD_INPUT)


def store_or_exit(command: str = "events", create: bool = False, write: bool = False, missing_ok: bool = False):
    """The store `serve` writes to ($JSM_AUTOPILOT_DB). A command that only reads never makes one
    (`create=False`; with `missing_ok`, None when there is none); one that writes (`write=True`)
    learns here, before it does anything, that it cannot: exit 2 with one line naming the path,
    JSM_AUTOPILOT_DB and the fix."""
    from jsm_autopilot.store.event_store import (
        EventStore,
        StoreMissing,
        StoreUnavailable,
    )

    try:
        store = EventStore(create=create)
        store.migrate()
        if write:
            store.require_writable(datetime.now(timezone.utc))
        return store
    except StoreUnavailable as error:
        if missing_ok and isinstance(error, StoreMissing):
            return None
        fail(f"{command}: {error}")


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


SOME_FAILED = 1


INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command ended by Ctrl-C


def client_or_exit(settings, command: str, budget_seconds: float = 120, reach: bool = True):
    """The Jira client from the environment's credentials, once the site answers (within 15 s);
    exit 2 naming what is missing, the variables of the credentials Jira refused, or the URL and
    why it does not answer as Jira."""
    from jsm_autopilot.connector.client import JiraClient, JiraError

    try:
        credentials = jira_credentials()
    except CredentialsError as error:
        fail(f"{command}: {error}")
    client = JiraClient(credentials, settings.project.deployment, budget_seconds=budget_seconds)
    if reach:
        try:
            client.reach()
        except JiraError as error:
            fail(f"{command}: {error.answer}" + ("" if error.status == 401 else "; check JIRA_URL"))
    return client
