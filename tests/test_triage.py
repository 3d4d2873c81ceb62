"""triage.suggest and `triage evaluate`: suggestions from the ticket's words, English and German."""

from __future__ import annotations

import json
from dataclasses import replace

from click.testing import CliRunner

import jsm_autopilot.cli.live  # noqa: F401  (registers the commands)
import jsm_autopilot.cli.triage  # noqa: F401
from jsm_autopilot.cli.main import main
from jsm_autopilot.config.loader import settings_from_mapping
from jsm_autopilot.rules.actions import TypeSuggestion
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import Firing, Ticket
from tests.conftest import ROOT, berlin, shipped_settings_data

T0 = berlin(2026, 3, 2, 10, 0)


def new_ticket(summary: str, description: str = "", issue_type: str = "Incident", status: str = "Opened") -> Ticket:
    return Ticket(key="SD-3", type=issue_type, status=status, status_since=T0, created=T0, summary=summary, description=description)


def suggestion(ticket: Ticket, settings) -> TypeSuggestion | None:
    found = [a for a in evaluate(ticket, T0, settings) if a.rule == "triage.suggest"]
    return found[0] if found else None


def test_a_german_defect_with_compounds_and_inflections(settings):
    made = suggestion(new_ticket("Benutzerimport stürzt ab", "Beim Hochladen kommen Abstürze und Fehlermeldungen."), settings)
    assert made.suggestion == "Software Defect"
    assert {"absturz", "fehlermeldung", "fehler"} <= set(made.matched)  # "Fehlermeldungen" holds "Fehler"
    assert made.body.startswith("jsm-autopilot · triage.suggest: the ticket reads like a Software Defect")


def test_an_english_suggestion(settings):
    made = suggestion(new_ticket("Idea: improve the catalogue", "It would be nice to have a wish list feature", "Request"), settings)
    assert made.suggestion == "Suggestion" and "would be nice" in made.matched


def test_umlaut_and_sharp_s_spellings_meet():
    data = shipped_settings_data()
    data["triage"] = {"min_matches": 1, "vocabulary": {"customisation": {"de": ["Größe", "Schnittstelle"]}}}
    settings = settings_from_mapping(data, base_directory=ROOT)
    made = suggestion(new_ticket("Bitte die Grösse der Schnittstellen anpassen"), settings)
    assert made.suggestion == "Customisation" and set(made.matched) == {"Größe", "Schnittstelle"}


def test_nothing_is_said_when_nothing_is_clear(settings):
    assert suggestion(new_ticket("Hello", "Please call me back."), settings) is None
    tie = new_ticket("Question about an error", "")  # one support word, one defect word
    assert suggestion(tie, settings) is None


def test_tickets_from_before_the_window_are_not_triaged(settings):
    from datetime import timedelta

    old = replace(new_ticket("Systemausfall", "Server nicht erreichbar, kompletter Ausfall"), created=T0 - timedelta(days=3))
    assert suggestion(old, settings) is None


def test_only_new_incidents_and_requests_and_only_once(settings):
    text = ("Systemausfall", "Server nicht erreichbar, kompletter Ausfall")
    assert suggestion(new_ticket(*text, issue_type="Software Defect"), settings) is None
    assert suggestion(new_ticket(*text, status="In Progress"), settings) is None
    assert suggestion(new_ticket(*text), settings).suggestion == "Non-Software Defect"
    already = replace(new_ticket(*text), firings=(Firing("triage.suggest", T0),))
    assert suggestion(already, settings) is None


def test_plan_json_carries_the_suggestion_and_the_words(tmp_path):
    from tests.jira_json import IssueBuilder, user

    issue = IssueBuilder("SD-77", "Incident", "Opened", T0, user("qm:c", "C", "customer"), summary="Anmeldeproblem: Fehler beim Login, Absturz")
    path = tmp_path / "issues.json"
    path.write_text(json.dumps({"issues": [issue.json()]}))
    result = CliRunner().invoke(main, ["plan", "--issues", str(path), "--at", T0.isoformat(), "--json", "--config", str(ROOT / "app.yaml")])
    action = next(a for a in json.loads(result.stdout) if a["rule"] == "triage.suggest")
    assert action["kind"] == "internal_comment"
    assert action["suggestion"] == "Software Defect" and {"fehler", "absturz"} <= set(action["matched"])


def test_evaluate_prints_accuracy_per_language_and_type_and_how_often_it_is_silent(tmp_path):
    typed = [("Software Defect", "Absturz mit Fehlermeldung"), ("Software Defect", "Error: crash on upload, exception"),
             ("Suggestion", "Idea to improve the reports"), ("Support Request", "Where is my invoice? Question about the licence"),
             ("Non-Software Defect", "Hello")]
    issues = [{"key": f"SD-{n}", "fields": {"summary": text, "description": None, "issuetype": {"name": kind}}} for n, (kind, text) in enumerate(typed)]
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"issues": issues}))
    environment = {"JSM_AUTOPILOT_DB": f"sqlite:///{tmp_path / 'none.db'}", "XDG_STATE_HOME": str(tmp_path / "state")}
    result = CliRunner().invoke(main, ["triage", "evaluate", "--issues", str(path), "--keywords-only", "--config",
                                       str(ROOT / "app.yaml")], env=environment)
    assert result.exit_code == 0, result.output
    assert "5 ticket(s), keywords: right 4 (80%), silent 1 (20%)" in result.stdout
    shipped = CliRunner().invoke(main, ["triage", "evaluate", "--issues", str(path), "--config", str(ROOT / "app.yaml")], env=environment)
    assert "5 ticket(s), learned from 600 tickets, keywords as fallback: right" in shipped.stdout
    assert not (tmp_path / "none.db").exists(), "evaluating never creates a store"
    figures = json.loads(CliRunner().invoke(main, ["triage", "evaluate", "--issues", str(path), "--json", "--keywords-only",
                                                   "--config", str(ROOT / "app.yaml")]).stdout)
    assert figures["by_type"]["non_software_defect"] == {"tickets": 1, "right": 0, "silent": 1, "accuracy": 0.0, "silent_share": 1.0}
    assert set(figures["by_language"]) == {"en", "de"} and figures["method"] == "keywords"


def test_stemming_from_many_threads_gives_the_same_stems():
    """Sweeps evaluate tickets on several threads (limits.concurrency) and so do the workers. A
    Snowball stemmer keeps the word it works on in the object: shared between threads, one
    thread's word ran into another's ("IndexError: string index out of range" in a CI run)."""
    import sys
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from jsm_autopilot.config.vocabulary import _stem

    words = [f"{stem}{ending}" for stem in ("abstürz", "benutzerverwaltung", "rechnung", "crash", "installation", "lizenzschlüssel")
             for ending in ("", "e", "en", "ungen", "ing", "ed", "s", "lich", "keiten")] * 40
    expected = [(_stem(word, "de"), _stem(word, "en")) for word in words]
    start = threading.Barrier(8)

    def stem_all(_: int) -> list[tuple[str, str]]:
        start.wait()
        return [(_stem(word, "de"), _stem(word, "en")) for word in words]

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(stem_all, range(8)))
    finally:
        sys.setswitchinterval(previous)
    assert all(result == expected for result in results)


def _learned(min_probability: float = 0.6):
    """A model learned (for real, with scikit-learn) from a few typed tickets of two types."""
    from jsm_autopilot.config.triage_model import learn

    defects = ["Export crashes with an error", "The import crashes on upload", "Report crashes when opened",
               "Login page crashes after update", "The search crashes with a stack trace", "Saving a course crashes"]
    wishes = ["Idea: a dark theme would be nice", "Wish: a calendar view would be nice", "Suggestion: export to PDF would be nice",
              "It would be nice to sort by date", "Idea: reminders by SMS would be nice", "A wish list would be nice"]
    return learn([(text, "software_defect") for text in defects] + [(text, "suggestion") for text in wishes], min_probability)


def test_a_learned_model_names_how_many_tickets_taught_it_and_the_words_that_weighed(settings):
    made = suggestion(new_ticket("The dashboard crashes"), settings.with_learned_triage(_learned()))
    assert made.suggestion == "Software Defect" and made.matched == ("crash", "the")
    assert made.reason == ('the ticket reads like a Software Defect (like the 12 tickets agents typed before it suggest '
                           '(weighed most: "crash", "the")); agents decide')


def test_when_the_learned_model_is_unsure_the_keywords_speak(settings):
    learned = _learned(min_probability=0.99)
    text = ("Systemausfall", "Server nicht erreichbar, kompletter Ausfall")
    assert learned.suggest(" ".join(text)) is None
    made = suggestion(new_ticket(*text), settings.with_learned_triage(learned))
    assert made.suggestion == "Non-Software Defect" and made.reason.startswith("the ticket reads like a Non-Software Defect (matched ")


def test_without_a_learned_model_or_a_keyword_nothing_is_said(settings):
    learned = _learned(min_probability=0.99)
    assert suggestion(new_ticket("Hello", "Please call me back."), settings.with_learned_triage(learned)) is None
