"""resolved.confirm decides on the whole reply: a complaint, a question or a partial fix never
closes a ticket, in English or German; the labelled sets measure it through `confirm evaluate`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

import cli.confirm  # noqa: F401  (registers the command)
from cli.main import main
from rules.actions import PublicComment, Transition
from rules.catalogue import evaluate
from rules.model import Role
from tests.conftest import ROOT, berlin
from tests.tickets import comment, resolved_ticket

T0 = berlin(2026, 1, 5, 10, 0)
FIXTURES = ROOT / "tests" / "fixtures"


def decide(settings, text: str) -> str:
    actions = evaluate(resolved_ticket(T0, comment(Role.CUSTOMER, T0 + timedelta(days=2), text)), T0 + timedelta(days=2, minutes=1), settings)
    transition = next(a for a in actions if isinstance(a, Transition))
    assert transition.rule == "resolved.confirm"
    return "close" if transition.to_status == settings.statuses.closed else "keep"


@pytest.mark.parametrize("text", [
    # complaints
    "Why did you close the ticket? The error is back every morning.",
    "Unacceptable: third time we report this, please close it only once it is really fixed.",
    "Warum haben Sie das Ticket geschlossen? Der Fehler kommt jeden Morgen wieder.",
    "Ich möchte mich beschweren, bitte schließen Sie erst, wenn es wirklich behoben ist.",
    # questions
    "Works now, thanks. Which patch was it in?",
    "Does this fix also cover the mobile app? Otherwise you can close.",
    "Funktioniert jetzt, danke. Welcher Patch war das?",
    "Gilt die Korrektur auch für die App? Sonst kann geschlossen werden.",
    # partial fixes
    "It works now for the admins, but the learners still see the error.",
    "Problem is solved for the reports; the dashboard is affected as well.",
    "Für die Administratoren funktioniert es jetzt, aber die Lernenden sehen den Fehler noch.",
    "Teilweise behoben, das Problem ist gelöst für Berichte, nicht für das Dashboard.",
])
def test_complaints_questions_and_partial_fixes_hand_back(settings, text):
    assert decide(settings, text) == "keep"


@pytest.mark.parametrize("text", [
    "Thanks, works now. Please close.",
    "Could you close the ticket, please? All fine on our side.",
    "Danke, funktioniert jetzt. Bitte schließen.",
    "Können Sie das Ticket schließen? Bei uns läuft alles.",
])
def test_plain_confirmations_close(settings, text):
    assert decide(settings, text) == "close"


def test_a_handed_back_reply_tells_agents_why(settings):
    ticket = resolved_ticket(T0, comment(Role.CUSTOMER, T0 + timedelta(days=2), "Problem is solved, but only on staging."))
    actions = evaluate(ticket, T0 + timedelta(days=2, minutes=1), settings)
    assert not any(isinstance(a, PublicComment) for a in actions)
    assert '"problem is solved", but "but"' in actions[0].reason


@pytest.mark.parametrize("name", ["confirm_replies.tsv", "confirm_replies_holdout.tsv"])
def test_confirm_evaluate_on_the_labelled_replies(name):
    result = CliRunner().invoke(main, ["confirm", "evaluate", "--replies", str(FIXTURES / name), "--json",
                                       "--config", str(ROOT / "app.yaml")])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["keep_replies_closed"] == 0  # no complaint, question or partial fix closes a ticket
    assert figures["recall"] >= 0.8
    assert set(figures["by_language"]) == {"en", "de"}
    if name == "confirm_replies.tsv":
        assert figures["replies"] >= 60


def test_the_labelled_set_has_both_kinds_in_both_languages():
    rows = [line.split("\t") for line in (FIXTURES / "confirm_replies.tsv").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    kinds = {(label, language) for label, language, _ in rows}
    assert kinds == {("close", "en"), ("close", "de"), ("keep", "en"), ("keep", "de")}
    assert all(sum(1 for r in rows if (r[0], r[1]) == kind) >= 15 for kind in kinds)


def test_a_malformed_line_is_named(tmp_path):
    bad = tmp_path / "replies.tsv"
    bad.write_text("close\ten\tPlease close.\nmaybe\tde\tVielleicht.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["confirm", "evaluate", "--replies", str(bad), "--config", str(ROOT / "app.yaml")])
    assert result.exit_code == 2 and f"{bad}:2:" in result.stderr
