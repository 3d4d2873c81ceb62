"""triage learn: suggestions learned from the site's own typed tickets, measured on held-out ones."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import cli.triage  # noqa: F401  (registers the commands)
from cli.main import main
from config.triage_model import LearnedTriage, learn
from rules.actions import TypeSuggestion
from rules.catalogue import evaluate
from rules.model import Ticket
from tests.conftest import ROOT
from tests.site import BOT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
TICKETS = ROOT / "tests" / "fixtures" / "triage_tickets.tsv"


def labelled(part: str) -> list[dict]:
    rows = [line.rstrip("\n").split("\t")[:5] for line in TICKETS.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [{"role": role, "language": language, "summary": summary, "description": description}
            for kind, role, language, summary, description in rows if kind == part]


def type_name(settings, role: str) -> str:
    return getattr(settings.issue_types, role)


def test_the_labelled_set_is_large_enough_and_balanced():
    history, heldout = labelled("history"), labelled("heldout")
    assert len(history) + len(heldout) >= 120 and len(heldout) >= 30
    for part in (history, heldout):
        kinds = {(t["role"], t["language"]) for t in part}
        assert len(kinds) == 12  # six types, two languages


def test_the_pure_predictor_agrees_with_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from config.vocabulary import terms_of

    examples = [(f"{t['summary']}\n{t['description']}", t["role"]) for t in labelled("history")]
    model = LearnedTriage.from_json(learn(examples).to_json())
    vectorizer = TfidfVectorizer(analyzer=terms_of, sublinear_tf=True, norm="l2")
    reference = LogisticRegression(C=20.0, max_iter=5000).fit(vectorizer.fit_transform([e[0] for e in examples]), [e[1] for e in examples])
    for ticket in labelled("heldout"):
        text = f"{ticket['summary']}\n{ticket['description']}"
        expected = dict(zip(reference.classes_, reference.predict_proba(vectorizer.transform([text]))[0]))
        mine = model.probabilities(text)
        assert all(abs(mine[c] - expected[c]) < 1e-6 for c in expected)


def test_learn_from_the_site_then_suggest_right_on_unseen_tickets(site_factory, tmp_path):
    site = site_factory(T0)
    history = labelled("history")
    site.seed({"issues": [{"type": type_name(site.settings, t["role"]), "summary": t["summary"], "description": t["description"],
                           "reporter": "claire@acme.example", "created": (T0 - timedelta(days=30)).isoformat()} for t in history]})
    env = {"JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
           "JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'store.db'}"}
    config = tmp_path / "app.yaml"
    config.write_text((ROOT / "app.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    learned = CliRunner().invoke(main, ["triage", "learn", "--jql", 'project = "SD"', "--config", str(config)], env=env)
    assert learned.exit_code == 0, learned.output
    assert f"Learned from {len(history)} ticket(s)" in learned.stdout

    unseen = tmp_path / "unseen.json"
    unseen.write_text(json.dumps({"issues": [
        {"key": f"SD-{900 + n}", "fields": {"summary": t["summary"], "description": t["description"],
                                           "issuetype": {"name": type_name(site.settings, t["role"])}}}
        for n, t in enumerate(labelled("heldout"))]}), encoding="utf-8")
    figures = json.loads(CliRunner().invoke(main, ["triage", "evaluate", "--issues", str(unseen), "--json", "--config", str(config)],
                                            env=env).stdout)
    keywords = json.loads(CliRunner().invoke(main, ["triage", "evaluate", "--issues", str(unseen), "--json", "--keywords-only",
                                                    "--config", str(config)], env=env).stdout)
    assert figures["method"].startswith(f"learned from {len(history)} tickets")
    assert figures["all"]["accuracy"] >= 0.6, figures["all"]
    assert all(row["accuracy"] >= 0.5 for row in figures["by_language"].values()), figures["by_language"]
    assert figures["all"]["accuracy"] > keywords["all"]["accuracy"]


def test_the_rule_suggests_with_what_was_learned_and_falls_back_to_the_keywords(settings):
    examples = [(f"{t['summary']}\n{t['description']}", t["role"]) for t in labelled("history")]
    taught = settings.with_learned_triage(learn(examples))
    new = Ticket(key="SD-7", type="Request", status="Opened", status_since=T0, created=T0, complete=True,
                 summary="Wir wünschen eine Schulung für unsere Administratoren",
                 description="Bitte bieten Sie uns eine eintägige Schulung an; wir möchten beraten werden.")
    (suggestion,) = [a for a in evaluate(new, T0 + timedelta(minutes=1), taught) if isinstance(a, TypeSuggestion)]
    assert suggestion.suggestion == "Consulting Request" and f"like the {len(examples)} tickets agents typed" in suggestion.reason
    unsure = taught.with_learned_triage(learn(examples, min_probability=1.0))  # never sure: the keywords speak
    crash = Ticket(key="SD-8", type="Incident", status="Opened", status_since=T0, created=T0, complete=True,
                   summary="Crash with an error", description="The upload crashes with an exception.")
    (fallback,) = [a for a in evaluate(crash, T0 + timedelta(minutes=1), unsure) if isinstance(a, TypeSuggestion)]
    assert "matched" in fallback.reason


def test_learning_needs_two_types(site_factory, tmp_path):
    site = site_factory(T0)
    site.seed({"issues": [{"type": "Suggestion", "summary": "Idea", "reporter": "claire@acme.example"}]})
    env = {"JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
           "JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'store.db'}"}
    result = CliRunner().invoke(main, ["triage", "learn", "--jql", 'project = "SD"', "--config", str(ROOT / "app.yaml")], env=env)
    assert result.exit_code == 2 and "at least two types" in result.stderr


@pytest.mark.parametrize("stored", ['{"format": 99}', "not json"])
def test_an_unreadable_learned_triage_falls_back_to_the_keywords(settings, tmp_path, stored):
    from cli.triage import with_learned_triage
    from webhooks.store import EventStore

    store = EventStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.save_learned("triage", stored, T0)
    assert with_learned_triage(settings, store).learned_triage is None
