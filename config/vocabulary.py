"""Triage vocabulary: which words point to which ticket type, matched in English and German.

Words are compared by their Snowball stems (inflections, umlauts and ß: "Abstürze" ~ "Absturz",
"crashed" ~ "crash"). German compounds are split with CharSplit ("Benutzerimport" -> "Benutzer" +
"Import"), so a keyword also matches inside a compound. Both libraries load their data here, once
(CharSplit's tables on the first compound, so that commands that never triage start at once).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Mapping

import snowballstemmer

_WORD = re.compile(r"\w+")
LANGUAGES = {"en": "english", "de": "german"}
# A Snowball stemmer keeps the word it works on in the object, so each thread has its own: sweeps
# and workers evaluate tickets on several threads at once.
_per_thread = threading.local()
MIN_COMPOUND_LENGTH = 8  # shorter words are not split
MIN_SPLIT_SCORE = 0.0  # CharSplit's confidence; below it the word is kept whole


def _tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _stem(word: str, language: str) -> str:
    stemmers = getattr(_per_thread, "stemmers", None)
    if stemmers is None:
        stemmers = _per_thread.stemmers = {code: snowballstemmer.stemmer(name) for code, name in LANGUAGES.items()}
    return stemmers[language].stemWord(word)


def _parts(word: str) -> list[str]:
    """The word and, for a German compound, its body and head."""
    if len(word) < MIN_COMPOUND_LENGTH or word.isdigit():
        return [word]
    # CharSplit loads German and Dutch n-gram tables (2 s) on import: only when a word needs it.
    from compound_split import char_split

    splits = char_split.split_compound(word)
    if splits and splits[0][0] > MIN_SPLIT_SCORE:
        _, body, head = splits[0]
        return [word, body.casefold(), head.casefold()]
    return [word]


def terms_of(text: str) -> list[str]:
    """The features a learned triage reads: each word's English and German stem, and the parts of
    German compounds, so "Abstürze", "crashed" and "Benutzerimport" meet their kin."""
    terms = []
    for word in _tokens(text):
        if word.isdigit():
            continue
        terms.append("en:" + _stem(word, "en"))
        terms.extend("de:" + _stem(part, "de") for part in _parts(word))
    return terms


# Frequent function words: enough to tell English from German in a ticket of a few lines.
_LANGUAGE_MARKERS = {
    "en": frozenset("the and is are was to of in for with it we our you your please not this that can how".split()),
    "de": frozenset("der die das und ist sind war zu von im für mit es wir unser sie ihr bitte nicht dies kann wie".split()),
}


def language_of_text(text: str) -> str:
    """"en" or "de", by which language's function words the text uses more (English on a tie)."""
    words = _tokens(text)
    counts = {language: sum(w in markers for w in words) for language, markers in _LANGUAGE_MARKERS.items()}
    return "de" if counts["de"] > counts["en"] else "en"


@dataclass(frozen=True)
class Match:
    type_key: str
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    # type key (issue_types role) -> language -> keywords as written in app.yaml
    keywords: Mapping[str, Mapping[str, tuple[str, ...]]]
    min_matches: int = 2
    lead: int = 1
    _stemmed: dict = field(default_factory=dict, repr=False, compare=False)

    def _phrases(self, language: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """(type key, keyword, stems) for every keyword, stemmed in each language once."""
        if language not in self._stemmed:
            self._stemmed[language] = [
                (type_key, keyword, tuple(_stem(t, language) for t in _tokens(keyword)))
                for type_key, by_language in self.keywords.items()
                for words in by_language.values()
                for keyword in words
            ]
        return self._stemmed[language]

    def scores(self, text: str) -> dict[str, set[str]]:
        """Keywords found in `text`, per type; both languages are tried, a ticket may mix them.
        Keywords with the same stems ("configure", "configuration") count once."""
        found: dict[str, dict[tuple[str, ...], str]] = {}
        words = _tokens(text)
        for language in LANGUAGES:
            sequence = [_stem(w, language) for w in words]
            parts = {_stem(p, language) for w in words for p in _parts(w)} if language == "de" else set(sequence)
            for type_key, keyword, stems in self._phrases(language):
                if len(stems) == 1:
                    hit = stems[0] in parts
                else:
                    hit = any(tuple(sequence[i:i + len(stems)]) == stems for i in range(len(sequence) - len(stems) + 1))
                if hit:
                    found.setdefault(type_key, {}).setdefault(stems, keyword)
        return {type_key: set(by_stems.values()) for type_key, by_stems in found.items()}

    def suggest(self, text: str) -> Match | None:
        """The clearly leading type, or None when nothing is clear."""
        ranked = sorted(((len(words), key, words) for key, words in self.scores(text).items()), reverse=True)
        if not ranked or ranked[0][0] < self.min_matches:
            return None
        if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < self.lead:
            return None
        count, key, words = ranked[0]
        return Match(key, tuple(sorted(words)))
