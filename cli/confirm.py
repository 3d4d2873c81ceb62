"""`jsm-autopilot confirm evaluate`: how resolved.confirm decides on a labelled set of replies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import click

from jsm_autopilot.cli.common import config_option, fail, make_console, site_settings
from jsm_autopilot.cli.main import main
from jsm_autopilot.cli.models import shipped_reply_model

LABELS = ("close", "keep")
GOAL_RECALL = 0.85  # issue 28: of confirmations taken, in each language; no keep reply may close


@dataclass
class ReplyScores:
    """Per language: close replies taken (recall) and keep replies closed (the mistake that matters)."""

    taken: dict[str, list[int]] = field(default_factory=dict)  # language -> [taken, close replies]
    wrongly_closed: dict[str, list[int]] = field(default_factory=dict)  # language -> [closed, keep replies]
    mistakes: list[tuple[str, str, str, str]] = field(default_factory=list)  # label, language, text, why

    def add(self, label: str, language: str, closed: bool, text: str, why: str) -> None:
        bucket = (self.taken if label == "close" else self.wrongly_closed).setdefault(language, [0, 0])
        bucket[0] += closed
        bucket[1] += 1
        if closed != (label == "close"):
            self.mistakes.append((label, language, text, why))

    def totals(self) -> tuple[int, int, int, int]:
        taken = sum(v[0] for v in self.taken.values())
        closes = sum(v[1] for v in self.taken.values())
        wrong = sum(v[0] for v in self.wrongly_closed.values())
        keeps = sum(v[1] for v in self.wrongly_closed.values())
        return taken, closes, wrong, keeps

    def language(self, lang: str) -> dict:
        taken, closes = self.taken.get(lang, [0, 0])
        wrong, keeps = self.wrongly_closed.get(lang, [0, 0])
        return {"close_taken": taken, "close_replies": closes, "keep_closed": wrong, "keep_replies": keeps,
                "precision": _ratio(taken, taken + wrong), "recall": _ratio(taken, closes)}

    def as_json(self) -> dict:
        taken, closes, wrong, keeps = self.totals()
        return {"replies": closes + keeps, "close_replies": closes, "keep_replies": keeps,
                "recall": _ratio(taken, closes), "precision": _ratio(taken, taken + wrong),
                "keep_replies_closed": wrong,
                "by_language": {lang: self.language(lang) for lang in sorted(set(self.taken) | set(self.wrongly_closed))},
                "mistakes": [{"label": m[0], "language": m[1], "text": m[2], "why": m[3]} for m in self.mistakes]}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.1%}"


def read_labelled_replies(path: Path) -> list[tuple[str, str, str]]:
    """TSV lines `label<TAB>language<TAB>text`; `#` lines are comments. Exits 2 naming a bad line."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        fail(f"{path}: {error.strerror or error}")
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in LABELS or not parts[2].strip():
            fail(f"{path}:{number}: expected label (close or keep), language and text separated by tabs")
        # An e-mail reply's line breaks are written as \n in the file.
        rows.append((parts[0], parts[1].strip(), parts[2].strip().replace("\\n", "\n")))
    if not rows:
        fail(f"{path}: no labelled replies")
    return rows


@main.group()
def confirm() -> None:
    """How resolved.confirm reads customers' replies on Resolved tickets."""


@confirm.command("evaluate")
@click.option("--replies", "replies_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="TSV: label (close or keep), language, reply text; one reply per line.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@config_option
def evaluate_confirmations(replies_file: Path, as_json: bool, config: Path | None) -> None:
    """Precision and recall of closing on a labelled set: no `keep` reply may close a ticket."""
    from jsm_autopilot.connector.replies import written_now
    from jsm_autopilot.rules.feedback import judge_reply
    from jsm_autopilot.rules.timers import reply_judgement


    settings = site_settings(config)
    if settings.confirmation.learned:
        settings = settings.with_reply_model(shipped_reply_model())
    lists = reply_judgement(settings)
    scores = ReplyScores()
    for label, language, text in read_labelled_replies(replies_file):
        # As the service reads a comment: only what the customer wrote now (connector/mapping.py).
        decision = judge_reply(written_now(text), **lists)
        scores.add(label, language, decision.close, text, decision.why)
    if as_json:
        click.echo(json.dumps(scores.as_json(), indent=2, ensure_ascii=False))
        return
    taken, closes, wrong, keeps = scores.totals()
    console = make_console()
    console.print(f"{closes + keeps} replies: {closes} close, {keeps} keep.")
    for language in sorted(set(scores.taken) | set(scores.wrongly_closed)):
        found = scores.language(language)
        t, c, w, k = found["close_taken"], found["close_replies"], found["keep_closed"], found["keep_replies"]
        console.print(f"  {language}: close replies taken {t}/{c}" + (f" ({t / c:.0%})" if c else "") + f"; keep replies closed {w}/{k}"
                      + "; precision " + _percent(found["precision"]) + ", recall " + _percent(found["recall"]))
    precision = taken / (taken + wrong) if taken + wrong else 0.0
    recall = taken / closes if closes else 0.0
    console.print(f"precision {precision:.1%}, recall {recall:.1%}")
    each = all(t >= GOAL_RECALL * c for t, c in scores.taken.values())
    console.print(f"goal: no keep reply closes ({'met' if wrong == 0 else 'MISSED'}); "
                  f"at least {GOAL_RECALL:.0%} of close replies taken in each language ({'met' if each else 'MISSED'})")
    for label, language, text, why in scores.mistakes:
        console.print(f"  {label} read as {'close' if label == 'keep' else 'keep'} [{language}]: {text} ({why})", markup=False)
