"""A triage learned from the site's own history: which type agents gave tickets that read alike.

Learning uses scikit-learn (TF-IDF over word stems, multinomial logistic regression), imported only
by `learn`. What it learned is kept as plain numbers (terms, idf weights, coefficients), so that
suggesting is a few sums in pure Python: the rules stay free of libraries and I/O, and a model
stored as JSON in the service's store is read without unpickling anything.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from jsm_autopilot.config.vocabulary import Match, terms_of

FORMAT = 1


@dataclass(frozen=True)
class LearnedTriage:
    terms: dict[str, int]  # term -> column
    idf: tuple[float, ...]
    classes: tuple[str, ...]  # issue_types roles (software_defect, ...)
    coef: tuple[tuple[float, ...], ...]
    intercept: tuple[float, ...]
    examples: int
    # Below this probability of the best type the learned triage stays silent (the keyword
    # vocabulary may still speak).
    min_probability: float = 0.3

    def probabilities(self, text: str) -> dict[str, float]:
        counts = Counter(t for t in terms_of(text) if t in self.terms)
        weights = {self.terms[t]: (1 + math.log(n)) * self.idf[self.terms[t]] for t, n in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        scores = [b + sum(row[i] * w / norm for i, w in weights.items()) for row, b in zip(self.coef, self.intercept)]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps)}

    def suggest(self, text: str) -> Match | None:
        """The most likely type with the words that weighed most for it, or None when unsure."""
        probabilities = self.probabilities(text)
        best = max(probabilities, key=probabilities.__getitem__)
        if probabilities[best] < self.min_probability:
            return None
        row = self.coef[self.classes.index(best)]
        weighed = sorted({t for t in terms_of(text) if t in self.terms and row[self.terms[t]] > 0},
                         key=lambda t: -row[self.terms[t]])
        words = tuple(dict.fromkeys(t.split(":", 1)[1] for t in weighed))[:4]
        return Match(best, words)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "terms": self.terms, "idf": self.idf, "classes": self.classes, "coef": self.coef,
                           "intercept": self.intercept, "examples": self.examples, "min_probability": self.min_probability})

    @classmethod
    def from_json(cls, text: str) -> "LearnedTriage":
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"a learned triage of format {data.get('format')!r}; this version reads {FORMAT}: run triage learn again")
        return cls(dict(data["terms"]), tuple(data["idf"]), tuple(data["classes"]), tuple(tuple(r) for r in data["coef"]),
                   tuple(data["intercept"]), int(data["examples"]), float(data["min_probability"]))


def learn(examples: Iterable[tuple[str, str]], min_probability: float = 0.3) -> LearnedTriage:
    """Learn from (text, type role) pairs; needs at least two types."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, labels = zip(*examples) if examples else ((), ())
    if len(set(labels)) < 2:
        raise ValueError("learning needs tickets of at least two types")
    vectorizer = TfidfVectorizer(analyzer=terms_of, sublinear_tf=True, norm="l2")
    matrix = vectorizer.fit_transform(texts)
    model = LogisticRegression(C=20.0, max_iter=5000)
    model.fit(matrix, labels)
    classes = tuple(str(c) for c in model.classes_)
    coef = model.coef_ if len(classes) > 2 else [-model.coef_[0], model.coef_[0]]
    intercept = model.intercept_ if len(classes) > 2 else [-model.intercept_[0], model.intercept_[0]]
    return LearnedTriage(
        terms={t: int(i) for t, i in vectorizer.vocabulary_.items()},
        idf=tuple(float(v) for v in vectorizer.idf_),
        classes=classes,
        coef=tuple(tuple(float(v) for v in row) for row in coef),
        intercept=tuple(float(v) for v in intercept),
        examples=len(texts),
        min_probability=min_probability,
    )


# The shipped corpus: tickets written for the project, one file per target type (config/triage_corpus/).
CORPUS_DIRECTORY = Path(__file__).parent / "triage_corpus"


def labelled_rows(directory: Path, width: int, expected: str) -> Iterator[list[str]]:
    """The tab-separated fields of every row of the directory's TSV files; `#` lines are comments.
    Raises ValueError naming the file and line of a row that has not `width` fields."""
    for path in sorted(directory.glob("*.tsv")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != width:
                raise ValueError(f"{path.name}:{number}: expected {expected} separated by tabs")
            yield parts


def corpus_examples(directory: Path = CORPUS_DIRECTORY) -> list[tuple[str, str, str]]:
    """(text, type role, language) of every ticket of the shipped corpus; TSV rows
    `type<TAB>language<TAB>summary<TAB>description`."""
    return [(f"{summary}\n{description}", role, language)
            for role, language, summary, description in labelled_rows(directory, 4, "type, language, summary and description")]


def default_triage(cache_directory: Path | None, min_probability: float = 0.3) -> LearnedTriage:
    """The triage learned from the shipped corpus, for a site that has not taught its own yet,
    kept in `cache_directory` (the service's state directory)."""
    return cached_model("triage-default", corpus_examples(), cache_directory, min_probability)


# Customers' replies on Resolved tickets, labelled close or keep (config/reply_corpus/): what
# resolved.confirm learns confirmations from, beside its rules.
REPLY_CORPUS_DIRECTORY = Path(__file__).parent / "reply_corpus"


def reply_examples(written_now: Callable[[str], str], directory: Path = REPLY_CORPUS_DIRECTORY) -> list[tuple[str, str, str]]:
    """(text, close or keep, language) of every labelled reply; line breaks are written \\n. Only
    what the customer wrote now is kept (`written_now`: connector/replies.py, as the service reads
    a comment; passed in, so that the settings package imports no connector)."""
    found = []
    for label, language, text in labelled_rows(directory, 3, "close or keep, language and text"):
        if label not in ("close", "keep"):
            raise ValueError(f"a reply labelled {label!r}: expected close or keep")
        found.append((written_now(text.replace("\\n", "\n")), label, language))
    return found


def cached_model(name: str, examples: list[tuple[str, str, str]], cache_directory: Path | None,
                 min_probability: float) -> LearnedTriage:
    """A model learned from `examples` at first use and kept as JSON in `cache_directory`, named by
    what it was learned from, so new examples or a new scikit-learn learn again; nothing pickled.
    A directory that cannot be written only costs the learning each start."""
    from importlib.metadata import version

    digest = hashlib.sha256(json.dumps([examples, version("scikit-learn"), FORMAT, min_probability]).encode()).hexdigest()[:16]
    cached = cache_directory / f"{name}-{digest}.json" if cache_directory is not None else None
    if cached is not None:
        try:
            if cached.is_file():
                return LearnedTriage.from_json(cached.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError):
            pass  # a damaged or unreadable cache is learned again
    model = learn([(text, label) for text, label, _ in examples], min_probability)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".tmp")
            partial.write_text(model.to_json(), encoding="utf-8")
            partial.replace(cached)
        except OSError:
            pass
    return model


def default_reply_model(cache_directory: Path | None, written_now: Callable[[str], str]) -> LearnedTriage:
    """What confirmations read like, learned from the shipped labelled replies."""
    return cached_model("replies", reply_examples(written_now), cache_directory, 0.5)
