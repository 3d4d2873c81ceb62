"""triage learn: suggestions learned from the site's own typed tickets, measured on held-out ones."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import jsm_autopilot.cli.triage  # noqa: F401  (registers the commands)
from jsm_autopilot.cli.main import main
from jsm_autopilot.config.triage_model import LearnedTriage, learn
from jsm_autopilot.rules.actions import TypeSuggestion
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import Ticket
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

    from jsm_autopilot.config.vocabulary import terms_of

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


def test_learning_refuses_below_the_minimum_per_type_and_keeps_the_shipped_model(site_factory, tmp_path):
    from jsm_autopilot.store.event_store import EventStore

    site = site_factory(T0)
    site.seed({"issues": [{"type": "Suggestion", "summary": "Idea", "reporter": "claire@acme.example"}]})
    env = {"JIRA_URL": site.url, "JIRA_USER": BOT, "JIRA_API_TOKEN": "token", "JIRA_PAT": "",
           "JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'store.db'}"}
    result = CliRunner().invoke(main, ["triage", "learn", "--jql", 'project = "SD"', "--config", str(ROOT / "app.yaml")], env=env)
    assert result.exit_code == 2
    assert "too few typed tickets to learn from (software_defect 0, non_software_defect 0, consulting_request 0, " \
           "support_request 0, customisation 0, suggestion 1; at least 15 of each type are needed)" in result.stderr
    assert "suggestions keep coming from the shipped model" in result.stderr
    assert not (tmp_path / "store.db").exists() or EventStore(env["JSM_AUTOPILOT_DB"]).learned("triage") is None
    lowered = CliRunner().invoke(main, ["triage", "learn", "--jql", 'project = "SD"', "--min-per-type", "1", "--config",
                                        str(ROOT / "app.yaml")], env=env)
    assert lowered.exit_code == 2 and "too few typed tickets" in lowered.stderr  # the other types have none at all


@pytest.mark.parametrize("stored", ['{"format": 99}', "not json"])
def test_an_unreadable_learned_triage_falls_back_to_the_shipped_model_or_the_keywords(settings, tmp_path, stored):
    from jsm_autopilot.cli.models import shipped_triage, with_learned_triage
    from jsm_autopilot.store.event_store import EventStore

    store = EventStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    store.save_learned("triage", stored, T0)
    assert with_learned_triage(settings, store).learned_triage == shipped_triage()
    keywords_only = settings.model_copy(update={"triage": settings.triage.model_copy(update={"default_model": False})})
    assert with_learned_triage(keywords_only, store).learned_triage is None


CORPUS = ROOT / "config" / "triage_corpus"
UNSEEN = ROOT / "tests" / "fixtures" / "triage_unseen.tsv"


def test_the_shipped_corpus_is_written_balanced_and_names_its_sources():
    from jsm_autopilot.config.settings import TRIAGE_TARGETS
    from jsm_autopilot.config.triage_model import corpus_examples

    examples = corpus_examples()
    assert len(examples) >= 600
    for role in TRIAGE_TARGETS:
        assert sum(1 for _, r, lang in examples if r == role and lang == "de") >= 50
        assert sum(1 for _, r, lang in examples if r == role and lang == "en") >= 50
    for path in CORPUS.glob("*.tsv"):
        assert "sources of inspiration:" in path.read_text(encoding="utf-8").splitlines()[0], path.name


def test_no_two_tickets_of_the_corpus_and_the_evaluation_sets_are_near_duplicates():
    """Written, not generated: no pair above 0.8 word-set Jaccard (ISSUE-NOTES, 28)."""
    from jsm_autopilot.config.triage_model import corpus_examples

    texts = [text for text, _, _ in corpus_examples()]
    for path in (UNSEEN, TICKETS):
        texts += [" ".join(line.split("\t")[3:5]) for line in path.read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.startswith("#")]
    word_sets = [frozenset(text.lower().split()) for text in texts]
    close = [(i, j) for i in range(len(word_sets)) for j in range(i + 1, len(word_sets))
             if len(word_sets[i] & word_sets[j]) > 0.8 * len(word_sets[i] | word_sets[j])]
    assert close == []


def test_on_a_fresh_site_the_shipped_model_meets_the_goal_on_unseen_tickets(tmp_path):
    """No site history: at least 60% right overall, 50% in each language, silent on at most a quarter
    (issue 28). The unseen set was written apart from the corpus and the method."""
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "JSM_AUTOPILOT_DB": ""}
    result = CliRunner().invoke(main, ["triage", "evaluate", "--tickets", str(UNSEEN), "--json", "--config", str(ROOT / "app.yaml")],
                                env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["method"].startswith("learned from 600 tickets")
    assert figures["all"]["tickets"] == 120 and figures["all"]["accuracy"] >= 0.6 and figures["all"]["silent_share"] <= 0.25
    assert all(row["accuracy"] >= 0.5 for row in figures["by_language"].values()), figures["by_language"]
    assert list((tmp_path / "state" / "jsm-autopilot").glob("triage-default-*.json")), "learned once, kept in the state directory"


def test_the_shipped_model_is_kept_in_the_state_directory_and_learned_again_when_damaged(tmp_path):
    from jsm_autopilot.config.triage_model import default_triage

    first = default_triage(tmp_path)
    [kept] = list(tmp_path.glob("triage-default-*.json"))
    assert default_triage(tmp_path) == first
    kept.write_text("not json", encoding="utf-8")
    assert default_triage(tmp_path) == first and LearnedTriage.from_json(kept.read_text(encoding="utf-8")) == first
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    assert default_triage(blocked / "state") == first  # a directory that cannot be made costs only the learning


def test_forget_drops_what_was_learned_from_the_site(settings, tmp_path):
    env = {"JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'store.db'}", "XDG_STATE_HOME": str(tmp_path / "state")}
    from jsm_autopilot.store.event_store import EventStore

    store = EventStore(env["JSM_AUTOPILOT_DB"])
    store.migrate()
    store.save_learned("triage", learn([(f"{t['summary']}\n{t['description']}", t["role"]) for t in labelled("history")]).to_json(), T0)
    forgot = CliRunner().invoke(main, ["triage", "forget", "--config", str(ROOT / "app.yaml")], env=env)
    assert forgot.exit_code == 0 and forgot.stdout.startswith("Forgot what was learned from the site")
    assert store.learned("triage") is None
    again = CliRunner().invoke(main, ["triage", "forget", "--config", str(ROOT / "app.yaml")], env=env)
    assert again.stdout.startswith("Nothing was learned from the site; suggestions come from the shipped model")
