"""Does a customer's comment confirm the solution? Phrase matching in English and German."""

from __future__ import annotations

import re
import unicodedata
from typing import Mapping

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


# How many words before a phrase a negation still refers to it: "you can not close the ticket",
# but not "no further questions, the ticket can be closed".
NEGATION_REACH = 2


def confirmation_in(
    text: str,
    phrases: Mapping[str, list[str]],
    negations: Mapping[str, list[str]],
) -> str | None:
    """The confirming phrase found in `text`, or None.

    Both languages are checked, since a German organisation's customer may well write in English.
    A phrase preceded closely by a negation does not count: handing a ticket back to agents is
    the safe mistake, closing it is not.
    """
    words = words_of(text)
    negation_words = [words_of(p) for group in negations.values() for p in group]
    for phrase in (p for group in phrases.values() for p in group):
        wanted = words_of(phrase)
        for start in _positions(words, wanted):
            window = words[max(0, start - NEGATION_REACH) : start + len(wanted)]
            if not any(_positions(window, negation) for negation in negation_words):
                return phrase
    return None
