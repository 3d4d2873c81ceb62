"""`jsm-autopilot triage learn` and `triage evaluate`: the type suggestions of triage.suggest."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import click

from jsm_autopilot.cli.common import (
    config_option,
    fail,
    issues_from_file,
    jira_client,
    make_console,
    open_store,
    site_settings,
)
from jsm_autopilot.cli.main import main
from jsm_autopilot.cli.models import LEARNED_TRIAGE, with_learned_triage

# Fewer typed tickets of a type than this teach a model that never suggests it: `triage learn` refuses.
MIN_PER_TYPE = 15
SILENT = "(no suggestion)"


@main.group()
def triage() -> None:
    """The type suggestions of triage.suggest."""


def _examples(issues, settings) -> list[tuple[str, str, str]]:
    """(text, type role, language) of tickets agents gave one of the target types."""
    from jsm_autopilot.config.settings import TRIAGE_TARGETS
    from jsm_autopilot.config.vocabulary import language_of_text
    from jsm_autopilot.connector.mapping import adf_to_text

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
@click.option("--min-per-type", default=MIN_PER_TYPE, show_default=True, type=click.IntRange(1, 10000),
              help="Refuse to learn while a target type has fewer typed tickets than this: the shipped model stays in use.")
@config_option
def learn_triage(jql: str, min_probability: float, min_per_type: int, config: Path | None) -> None:
    """Learn from the site's own history which type agents give tickets that read alike.

    It reads the tickets the JQL finds, keeps those of the target types, learns with scikit-learn
    and stores the result in the service's store (JSM_AUTOPILOT_DB), where triage.suggest uses it
    from the next start of serve or sweep on; the keyword vocabulary stays the fallback.
    """
    from jsm_autopilot.config.triage_model import learn

    settings = site_settings(config)
    store = open_store(create=True, write=True)  # before reading and learning, not after
    client = jira_client(settings)
    issues = list(client.search(jql, ["summary", "description", "issuetype"]))
    examples = _examples(issues, settings)
    from jsm_autopilot.config.settings import TRIAGE_TARGETS

    counted = Counter(role for _, role, _ in examples)
    few = {role: counted.get(role, 0) for role in TRIAGE_TARGETS if counted.get(role, 0) < min_per_type}
    if few:
        fail(f"triage learn: too few typed tickets to learn from ({', '.join(f'{role} {n}' for role, n in few.items())}; "
              f"at least {min_per_type} of each type are needed). Nothing was learned: suggestions keep coming from "
              f"{'the shipped model' if settings.triage.default_model else 'the keywords'}. Widen --jql, or lower --min-per-type.")
    try:
        model = learn([(text, role) for text, role, _ in examples], min_probability)
    except ValueError as error:
        fail(f"triage learn: {error} (found {len(examples)} typed ticket(s) of the target types among {len(issues)})")
    store.save_learned(LEARNED_TRIAGE, model.to_json(), datetime.now(timezone.utc))
    per_type = Counter(role for _, role, _ in examples)
    click.echo(f"Learned from {len(examples)} ticket(s): " + ", ".join(f"{role} {n}" for role, n in sorted(per_type.items())))
    click.echo("Stored; serve and sweep use it from their next start. Check it: jsm-autopilot triage evaluate --issues FILE")


@triage.command("forget")
@config_option
def forget_triage(config: Path | None) -> None:
    """Drop what `triage learn` learned from the site: suggestions come from the shipped model again
    (or the keywords, with triage.default_model: false), from the next start of serve or sweep on."""
    settings = site_settings(config)
    dropped = open_store(create=True, write=True).forget_learned(LEARNED_TRIAGE)
    fallback = "the shipped model" if settings.triage.default_model else "the keywords"
    click.echo(("Forgot what was learned from the site" if dropped else "Nothing was learned from the site")
               + f"; suggestions come from {fallback} from the next start of serve or sweep on.")


@triage.command("evaluate")
@click.option("--issues", "issues_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A saved search/jql result of tickets agents have already typed (fields summary, description, issuetype).")
@click.option("--tickets", "tickets_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Or a labelled TSV: [part<TAB>]type<TAB>language<TAB>summary<TAB>description, types as roles (software_defect, ...).")
@click.option("--keywords-only", is_flag=True, help="Ignore what `triage learn` stored; measure the keyword vocabulary.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@config_option
def evaluate_triage(issues_file: Path | None, tickets_file: Path | None, keywords_only: bool, as_json: bool,
                    config: Path | None) -> None:
    """Compare the suggestions with the types agents set: right, wrong and silent, per language and per type."""
    from rich.table import Table

    if (issues_file is None) == (tickets_file is None):
        fail("triage evaluate: give --issues or --tickets")
    settings = site_settings(config)
    if not keywords_only:
        settings = with_learned_triage(settings)
    examples = _examples(issues_from_file(issues_file), settings) if issues_file else _labelled_tickets(tickets_file)
    if not examples:
        fail(f"{issues_file or tickets_file}: no ticket has one of the target types")
    learned = settings.learned_triage
    outcomes = []  # (language, actual role, suggested role or SILENT)
    for text, role, language in examples:
        match = learned.suggest(text) if learned is not None else None
        match = match or settings.vocabulary.suggest(text)
        outcomes.append((language, role, match.type_key if match else SILENT))
    figures = _figures(outcomes)
    figures["method"] = f"learned from {learned.examples} tickets, keywords as fallback" if learned else "keywords"
    figures["by_language_and_type"] = {f"{lang}/{role}": row for lang, rows in _by_language_and_type(outcomes).items()
                                       for role, row in rows.items()}
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    console = make_console()
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


def _labelled_tickets(path: Path) -> list[tuple[str, str, str]]:
    """(text, type role, language) from a labelled TSV; exits 2 naming a bad line."""
    from jsm_autopilot.config.settings import TRIAGE_TARGETS

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        fail(f"{path}: {error.strerror or error}")
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\t\r").split("\t")
        parts = parts[1:] if len(parts) == 5 else parts
        if len(parts) != 4 or parts[0] not in TRIAGE_TARGETS:
            fail(f"{path}:{number}: expected [part,] type ({', '.join(TRIAGE_TARGETS)}), language, summary, description")
        role, language, summary, description = parts
        found.append((f"{summary}\n{description}", role, language))
    return found


def _by_language_and_type(outcomes: list[tuple[str, str, str]]) -> dict:
    return {lang: _figures([o for o in outcomes if o[0] == lang])["by_type"] for lang in sorted({o[0] for o in outcomes})}


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
