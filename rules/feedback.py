"""Does a customer's reply on a Resolved ticket confirm the solution? English and German.

The reply is judged sentence by sentence: a confirming phrase closes the ticket only when nothing
in the reply casts doubt on it: a question (other than a request to close), a condition ("once the
fix is on production", "sobald", "obwohl"), a contrast ("but", "aber"), a complaint, a wish to keep
the ticket open, a clause stating a problem still there (a partial fix needs no "but"). An
out-of-office reply is no feedback at all. Handing a ticket back to agents is the safe mistake;
closing it on a complaint is not (guide 2.9, 4.1). The quoted history of an e-mail reply never
reaches here: the connector keeps only what the customer wrote now (connector/replies.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Protocol

if TYPE_CHECKING:
    from jsm_autopilot.config.sections import Language

    # Phrase lists by language, as app.yaml holds them (`confirmation`, `escalation`): only the lists are read.
    Phrases = Mapping[Language, list[str]]

_WORD = re.compile(r"\w+")
# Customers type "geloest" as often as "gelöst"; casefold already turns ß into ss.
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def words_of(text: str) -> tuple[str, ...]:
    """Normalised words: Unicode NFKC, case-folded, umlauts spelled out."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_UMLAUTS)
    return tuple(_WORD.findall(folded))


def _positions(words: tuple[str, ...], phrase: tuple[str, ...]) -> list[int]:
    n = len(phrase)
    if n == 0:
        return []
    return [i for i in range(len(words) - n + 1) if words[i : i + n] == phrase]


# A word in quotation marks is reported or ironic ("we had this 'solved' in autumn"), not said.
_QUOTED = re.compile(r"(?<!\w)[\"'„“‚‘«]([^\"'„“”‚‘’«»\n]{1,60})[\"'“”’‘»](?!\w)")

# How many words before a phrase a negation still refers to it: "you can not close the ticket",
# but not "no further questions, the ticket can be closed".
NEGATION_REACH = 2


def confirmation_in(
    text: str,
    phrases: Phrases,
    negations: Phrases,
    close_words: Phrases | None = None,
    permissions: Phrases | None = None,
) -> str | None:
    """The confirming phrase found in `text`, or None: one of `phrases`, or in one sentence a word
    for closing and a word that allows it ("Sie können das Ticket gerne schließen", "happy for this
    to be closed"), or a sentence that opens with the word for closing ("Close it.").

    Both languages are checked, since a German organisation's customer may well write in English.
    A phrase preceded closely by a negation does not count: handing a ticket back to agents is
    the safe mistake, closing it is not.
    """
    words = words_of(_QUOTED.sub(" ", text))
    negation_words = [words_of(p) for group in negations.values() for p in group]

    def denied(found: tuple[str, ...], start: int, length: int) -> bool:
        # Before the phrase, and German puts the negation after the verb ("funktioniert jetzt
        # nicht"): one word more. A negation inside the phrase ("no further action") is its own.
        around = (found[max(0, start - NEGATION_REACH) : start], found[start + length : start + length + 1])
        return any(_positions(window, negation) for window in around for negation in negation_words)

    for phrase in (p for group in phrases.values() for p in group):
        wanted = words_of(phrase)
        if any(not denied(words, start, len(wanted)) for start in _positions(words, wanted)):
            return phrase
    for sentence in _SENTENCE.findall(_QUOTED.sub(" ", text)):
        said = words_of(sentence)
        # "Close it." asks to close; "Closed?" and "Geschlossen." do not (a participle, a question).
        imperative = not sentence.rstrip().endswith("?")
        for close in (w for group in (close_words or {}).values() for w in group):
            wanted = words_of(close)
            for start in _positions(said, wanted):
                if denied(said, start, len(wanted)):
                    continue
                opens = start == 0 and imperative and not _PARTICIPLE.search(wanted[0])
                if opens or _found(said, permissions or {}) is not None:
                    return close
    return None


_PARTICIPLE = re.compile(r"(ed|geschlossen)$")


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# Clauses: a sentence's parts between commas, semicolons and dashes ("the import works, the export
# hangs" states a problem in its second clause).
_CLAUSE = re.compile(r"[^.!?\n,;:–—]+")


class ReadsReplies(Protocol):
    """A model of what confirmations read like (config/triage_model.py default_reply_model)."""

    def probabilities(self, text: str) -> dict[str, float]: ...


@dataclass(frozen=True)
class ReplyDecision:
    close: bool
    phrase: str | None  # the confirming phrase found, if any
    doubt: str | None  # what kept it open, when a phrase was found
    auto_reply: str | None = None  # an out-of-office reply: no feedback at all

    @property
    def why(self) -> str:
        if self.auto_reply is not None:
            return f'an automatic reply ("{self.auto_reply}"), no feedback'
        if self.close:
            return f'confirmed ("{self.phrase}")'
        if self.phrase is None:
            return "no confirming phrase"
        return f'"{self.phrase}", but {self.doubt}'


def _found(words: tuple[str, ...], phrases: Phrases) -> str | None:
    for phrase in (p for group in phrases.values() for p in group):
        if _positions(words, words_of(phrase)):
            return phrase
    return None


def _problem_in(words: tuple[str, ...], problems: Phrases, negations: Phrases) -> str | None:
    """A problem word not denied just before it ("no more errors", "keine Fehlermeldung mehr")."""
    denials = [words_of(n) for group in negations.values() for n in group]
    for problem in (p for group in problems.values() for p in group):
        for start in _positions(words, words_of(problem)):
            before = words[max(0, start - NEGATION_REACH - 1):start]  # "without a single error"
            if not any(_positions(before, denial) for denial in denials):
                return problem
    return None


# "once more", "once again", "wenn auch" say nothing conditional.
_NOT_CONDITIONS = (("once", "more"), ("once", "again"), ("wenn", "auch"))


def _condition_in(words: tuple[str, ...], conditions: Phrases, permissions: Phrases) -> str | None:
    """A condition word, unless it opens a permission ("close whenever suits" allows, it sets no
    condition) or an idiom that is none ("once more")."""
    allowing = [words_of(p) for group in permissions.values() for p in group] + [list(w) for w in _NOT_CONDITIONS]
    for condition in (c for group in conditions.values() for c in group):
        for start in _positions(words, words_of(condition)):
            if not any(tuple(words[start:start + len(allow)]) == tuple(allow) for allow in allowing if len(allow) > 1):
                return condition
    return None


def phrase_in(text: str, phrases: Phrases) -> str | None:
    """The first of `phrases` (either language) that `text` holds as whole words, or None: an
    out-of-office marker, a complaint."""
    return _found(words_of(text), phrases)


def judge_reply(
    text: str,
    phrases: Phrases,
    negations: Phrases,
    doubts: Phrases,
    question_words: Phrases,
    conditions: Phrases | None = None,
    problems: Phrases | None = None,
    fixed_words: Phrases | None = None,
    auto_replies: Phrases | None = None,
    close_words: Phrases | None = None,
    permissions: Phrases | None = None,
    learned: ReadsReplies | None = None,
    learned_min_probability: float = 0.5,
    outcome_words: Phrases | None = None,
) -> ReplyDecision:
    """Close only on a confirmation with no doubt in any sentence: no contrast or complaint, no
    condition, no question that wants an answer, no clause stating a problem still there. A
    confirmation is a phrase of the lists, or, where none is found, a reply that `learned` reads as
    one at least `learned_min_probability` likely; the same doubts keep either open. An automatic
    reply is no feedback at all."""
    automatic = phrase_in(text, auto_replies or {})
    if automatic is not None:
        return ReplyDecision(False, None, None, automatic)
    phrase = confirmation_in(text, phrases, negations, close_words, permissions)
    if phrase is None and learned is not None and _found(words_of(text), outcome_words or {}) is not None:
        likely = learned.probabilities(text).get("close", 0.0)
        if likely >= learned_min_probability:
            phrase = f"read as a confirmation, {likely:.0%} likely"
    if phrase is None:
        return ReplyDecision(False, None, None)
    words = words_of(text)
    doubt = _found(words, doubts)
    if doubt is not None:
        return ReplyDecision(False, phrase, f'"{doubt}"')
    condition = _condition_in(words, conditions or {}, permissions or {})
    if condition is not None:
        return ReplyDecision(False, phrase, f'a condition ("{condition}")')
    for clause in _CLAUSE.findall(text):
        said = words_of(clause)
        problem = _problem_in(said, problems or {}, negations)
        if problem is not None and _found(said, fixed_words or {}) is None and \
                confirmation_in(clause, phrases, negations, close_words, permissions) is None:
            return ReplyDecision(False, phrase, f'a problem still there ("{problem}")')
    for sentence in _SENTENCE.findall(text):
        if not sentence.rstrip().endswith("?"):
            continue
        asked = words_of(sentence)
        interrogative = _found(asked[:3], question_words)
        # "Could you close the ticket?" asks to close; "Why did you close it?" and any other
        # question want an answer first.
        if interrogative is not None or confirmation_in(sentence, phrases, negations, close_words, permissions) is None:
            return ReplyDecision(False, phrase, "a question")
    return ReplyDecision(True, phrase, None)
