"""`jsm-autopilot triage learn` and `triage evaluate`: the type suggestions of triage.suggest."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import click

from cli.main import _console, _fail, _issues_from_file, _settings_or_exit, config_option, main

LEARNED_TRIAGE = "triage"
SILENT = "(no suggestion)"


def with_learned_triage(settings, store=None):
    """The settings with what `triage learn` stored, when a store holds it; never creates a store."""
    from config.triage_model import LearnedTriage
    from webhooks.store import EventStore, StoreUnavailable, database_url

    url = database_url()
    if store is None:
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            return settings
        store = EventStore(url)
    try:
        found = store.learned(LEARNED_TRIAGE)
    except StoreUnavailable:
        return settings  # no store yet, or one from before `triage learn` existed
    if found is None:
        return settings
    try:
        return settings.with_learned_triage(LearnedTriage.from_json(found[0]))
    except (ValueError, KeyError) as error:
        click.echo(f"warning: the learned triage in the store cannot be read ({error}); using the keywords", err=True)
        return settings


@main.group()
def triage() -> None:
    """The type suggestions of triage.suggest."""


def _examples(issues, settings) -> list[tuple[str, str, str]]:
    """(text, type role, language) of tickets agents gave one of the target types."""
    from config.settings import TRIAGE_TARGETS
    from config.vocabulary import language_of_text
    from connector.mapping import adf_to_text

    roles = {getattr(settings.issue_types, key): key for key in TRIAGE_TARGETS}
    found = []
    for issue in issues:
        fields = issue.get("fields") or {}
        role = roles.get((fields.get("issuetype") or {}).get("name"))
        if role is None:
            continue
        text = f"{fields.get('summary') or ''}\n{adf_to_text(fields.get('description'))}"
        found.append((text, role, language_of_text(text)))
    return found


@triage.command("learn")
@click.option("--jql", required=True, help="Tickets whose type agents already set, e.g. 'project = SD AND created >= -365d'.")
@click.option("--min-probability", default=0.3, show_default=True, type=click.FloatRange(0, 1),
              help="Below this certainty the learned triage stays silent (the keywords may still speak).")
@config_option
def learn_triage(jql: str, min_probability: float, config: Path | None) -> None:
    """Learn from the site's own history which type agents give tickets that read alike.

    It reads the tickets the JQL finds, keeps those of the target types, learns with scikit-learn
    and stores the result in the service's store (JSM_AUTOPILOT_DB), where triage.suggest uses it
    from the next start of serve or sweep on; the keyword vocabulary stays the fallback.
    """
    from cli.live import _client_or_exit
    from config.triage_model import learn
    from connector.client import JiraError
    from webhooks.store import EventStore, StoreUnavailable

    settings = _settings_or_exit(config)
    client = _client_or_exit(settings, "triage learn")
    try:
        issues = list(client.search(jql, ["summary", "description", "issuetype"]))
    except JiraError as error:
        _fail(f"triage learn: {error}")
    examples = _examples(issues, settings)
    try:
        model = learn([(text, role) for text, role, _ in examples], min_probability)
    except ValueError as error:
        _fail(f"triage learn: {error} (found {len(examples)} typed ticket(s) of the target types among {len(issues)})")
    try:
        store = EventStore()
        store.migrate()
        store.save_learned(LEARNED_TRIAGE, model.to_json(), datetime.now(timezone.utc))
    except StoreUnavailable as error:
        _fail(f"triage learn: {error}")
    per_type = Counter(role for _, role, _ in examples)
    click.echo(f"Learned from {len(examples)} ticket(s): " + ", ".join(f"{role} {n}" for role, n in sorted(per_type.items())))
    click.echo("Stored; serve and sweep use it from their next start. Check it: jsm-autopilot triage evaluate --issues FILE")


@triage.command("evaluate")
@click.option("--issues", "issues_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A saved search/jql result of tickets agents have already typed (fields summary, description, issuetype).")
@click.option("--keywords-only", is_flag=True, help="Ignore what `triage learn` stored; measure the keyword vocabulary.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@config_option
def evaluate_triage(issues_file: Path, keywords_only: bool, as_json: bool, config: Path | None) -> None:
    """Compare the suggestions with the types agents set: right, wrong and silent, per language and per type."""
    from rich.table import Table

    settings = _settings_or_exit(config)
    if not keywords_only:
        settings = with_learned_triage(settings)
    examples = _examples(_issues_from_file(issues_file), settings)
    if not examples:
        _fail(f"{issues_file}: no ticket has one of the target types")
    learned = settings.learned_triage
    outcomes = []  # (language, actual role, suggested role or SILENT)
    for text, role, language in examples:
        match = learned.suggest(text) if learned is not None else None
        match = match or settings.vocabulary.suggest(text)
        outcomes.append((language, role, match.type_key if match else SILENT))
    figures = _figures(outcomes)
    figures["method"] = f"learned from {learned.examples} tickets, keywords as fallback" if learned else "keywords"
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    console = _console()
    overall = figures["all"]
    console.print(f"{overall['tickets']} ticket(s), {figures['method']}: right {overall['right']} ({overall['accuracy']:.0%}), "
                  f"silent {overall['silent']} ({overall['silent_share']:.0%})")
    for group in ("by_language", "by_type"):
        table = Table(title=group.replace("_", " "), show_header=True, header_style="bold")
        for column in ("", "tickets", "right", "accuracy", "silent"):
            table.add_column(column, justify="right" if column else "left")
        for name, row in figures[group].items():
            table.add_row(name, str(row["tickets"]), str(row["right"]), f"{row['accuracy']:.0%}", str(row["silent"]))
        console.print(table)


def _figures(outcomes: list[tuple[str, str, str]]) -> dict:
    def summary(rows) -> dict:
        tickets = len(rows)
        right = sum(1 for _, actual, guess in rows if actual == guess)
        silent = sum(1 for *_, guess in rows if guess == SILENT)
        return {"tickets": tickets, "right": right, "silent": silent,
                "accuracy": right / tickets if tickets else 0.0, "silent_share": silent / tickets if tickets else 0.0}

    return {"all": summary(outcomes),
            "by_language": {lang: summary([o for o in outcomes if o[0] == lang]) for lang in sorted({o[0] for o in outcomes})},
            "by_type": {role: summary([o for o in outcomes if o[1] == role]) for role in sorted({o[1] for o in outcomes})}}
