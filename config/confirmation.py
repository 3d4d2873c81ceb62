"""How resolved.confirm reads a customer's reply, as app.yaml's `confirmation` says (guide 2.9):
the phrases that confirm, the words that cast doubt, and the learned reading's threshold."""

from __future__ import annotations

from pydantic import Field

from jsm_autopilot.config.sections import Language, Name, Section

# The word lists' defaults, one function per field of Confirmation. Named and typed, not lambdas:
# mypy reads a lambda's dict literal as dict[str, ...] here, not as the field's dict[Language, ...].

def _doubts() -> dict[Language, list[str]]:
    return {
        "en": ["but", "however", "except", "although", "still", "came back", "only for", "only in", "partly", "partially",
               "not yet", "affected", "as well",
               "complaint", "complain", "unacceptable", "unprofessional", "far too long", "escalate", "disappointed",
               "keep it open", "keep the ticket open",
               "leave it open", "leave the ticket open", "do not close", "don't close", "dont close", "reopen",
               "will test", "we'll test", "i'll test", "will confirm", "i'll confirm", "let you know"],
        "de": ["aber", "jedoch", "allerdings", "trotzdem", "außer", "ausser", "immer noch", "noch immer", "weiterhin",
               "wieder aufgetreten", "betroffen", "ebenfalls", "nur für", "nur bei", "nur im", "teilweise",
               "noch nicht", "noch da", "beschwerde", "beschweren", "inakzeptabel", "eskalieren",
               "unprofessionell", "viel zu lange", "enttäuscht", "unzufrieden", "offen lassen", "offen bleiben", "nicht schließen",
               "nicht schliessen", "ich teste", "wir testen", "teste noch", "testen noch", "gebe dann", "melde mich", "melden uns"],
    }


def _close_words() -> dict[Language, list[str]]:
    return {
        "en": ["close", "closed", "closing", "closure", "resolve", "shut", "finalised", "finalized", "mark this as done",
               "mark it as done", "mark as done"],
        "de": ["schließen", "geschlossen", "abgeschlossen", "abschließen", "schließung", "zumachen", "zu machen",
               "erledigt setzen", "abhaken", "beendet", "beenden", "closen", "ins archiv"],
    }


def _permissions() -> dict[Language, list[str]]:
    return {
        "en": ["can", "may", "feel free", "go ahead", "ok", "okay", "happy", "please", "convenience", "good to", "away",
               "fine to", "welcome to", "whenever suits", "whenever convenient", "whenever you like", "sign-off", "approved",
               "fine by me", "from our point of view", "from our end", "from our side"],
        "de": ["kann", "können", "kannst", "könnt", "darf", "dürfen", "dürft", "gerne", "gern", "bitte", "ruhig",
               "von mir aus", "von unserer seite", "von meiner seite", "aus unserer sicht", "für uns", "einverstanden",
               "freigabe", "steht nichts im wege"],
    }


def _conditions() -> dict[Language, list[str]]:
    return {
        "en": ["if", "once", "when", "whenever", "as soon as", "provided", "unless", "only after", "assuming", "after we",
               "after our"],
        "de": ["wenn", "sobald", "falls", "obwohl", "obgleich", "sofern", "vorausgesetzt", "erst nach", "angenommen",
               "nachdem wir"],
    }


def _problems() -> dict[Language, list[str]]:
    return {
        "en": ["fails", "failing", "failed", "error", "errors", "does not work", "doesn't work", "not working", "broken",
               "crash", "crashes", "missing", "wrong", "hangs", "slow", "cannot", "can't", "unable", "empty", "blank",
               "does not load",
               "doesn't load", "won't load", "does not open", "doesn't open", "won't open", "does not start", "doesn't start"],
        "de": ["fehler", "fehlermeldung", "funktioniert nicht", "geht nicht", "klappt nicht", "hängt", "fehlt", "fehlen",
               "falsch", "abbruch", "bricht ab", "stürzt ab", "langsam", "kann nicht", "können nicht", "leer", "lädt nicht",
               "öffnet nicht", "startet nicht", "läuft nicht", "erscheint nicht", "kommt nicht"],
    }


def _fixed_words() -> dict[Language, list[str]]:
    return {
        "en": ["fixed", "solved", "resolved", "gone", "no longer", "not anymore", "disappeared"],
        "de": ["behoben", "gelöst", "weg", "nicht mehr", "verschwunden", "erledigt"],
    }


def _auto_replies() -> dict[Language, list[str]]:
    return {
        "en": ["out of office", "out of the office", "automatic reply", "auto-reply", "autoreply", "auto reply",
               "away from the office", "on annual leave", "limited access to email", "limited access to e-mail"],
        "de": ["abwesenheitsnotiz", "automatische antwort", "nicht im büro", "außer haus", "ausser haus", "im urlaub",
               "nicht erreichbar bis", "abwesend bis", "keinen zugriff auf meine e-mails", "eingeschränkt erreichbar"],
    }


def _outcome_words() -> dict[Language, list[str]]:
    return {
        "en": ["works", "working", "worked", "fixed", "solved", "resolved", "sorted", "fine", "good", "done", "close",
               "closed", "closing", "complete", "completed", "finished", "in order", "success", "successful", "successfully",
               "correct", "correctly", "right", "again", "confirm", "confirmed", "did the trick", "no longer"],
        "de": ["funktioniert", "geht", "läuft", "klappt", "gelöst", "behoben", "erledigt", "passt", "schließen", "geschlossen",
               "zu", "fertig", "abgeschlossen", "durch", "in ordnung", "erfolgreich", "korrekt", "richtig", "wieder",
               "bestätigen", "bestätige", "weg", "nicht mehr", "alles gut", "top"],
    }


def _question_words() -> dict[Language, list[str]]:
    return {
        "en": ["why", "what", "when", "how", "where", "who", "which", "is", "are", "does", "did", "has", "have", "was"],
        "de": ["warum", "wieso", "weshalb", "was", "wann", "wie", "wo", "wer", "welche", "welcher", "ist", "sind", "hat",
               "haben", "wurde"],
    }


class Confirmation(Section):
    """Phrases in a customer's comment on a Resolved ticket that mean "you may close it"."""

    # Phrases that confirm a solution, per language.
    phrases: dict[Language, list[Name]] = Field(min_length=1)
    # A phrase next to one of these ("do not close") is not a confirmation.
    negations: dict[Language, list[Name]] = {}
    # Anywhere in the reply, one of these hands it back to agents even with a phrase: contrast,
    # complaints, a problem still there, a partial fix, a wish to keep the ticket open.
    doubts: dict[Language, list[Name]] = Field(default_factory=_doubts)
    # In one sentence, a word for closing and one that allows it confirm too ("Sie können das Ticket
    # gerne schließen", "happy for this to be closed"); so does a sentence opening with the former.
    close_words: dict[Language, list[Name]] = Field(default_factory=_close_words)
    # Words that, in one sentence with a word for closing, allow it ("feel free to close"), per
    # language.
    permissions: dict[Language, list[Name]] = Field(default_factory=_permissions)
    # Anywhere in the reply, one of these makes the close conditional ("once the fix is on production",
    # "obwohl der Fehler nur einmal pro Woche auftritt"): a condition is never a confirmation.
    conditions: dict[Language, list[Name]] = Field(default_factory=_conditions)
    # A clause with one of these states a problem that is still there ("the export fails"), unless the
    # same clause says it is fixed (fixed_words) or is the confirmation itself.
    problems: dict[Language, list[Name]] = Field(default_factory=_problems)
    # Words of a clause saying the problem is gone, per language.
    fixed_words: dict[Language, list[Name]] = Field(default_factory=_fixed_words)
    # An automatic reply (out of office) is no feedback at all: it neither closes, nor hands back,
    # nor restarts a clock.
    auto_replies: dict[Language, list[Name]] = Field(default_factory=_auto_replies)
    # Where no phrase confirms and nothing casts doubt, a reply the model learned from the shipped
    # labelled replies reads as a confirmation at least this likely closes too (false: rules alone).
    learned: bool = True
    # With confirmation.learned, how sure the learned model must be before a reply counts as a
    # confirmation.
    learned_min_probability: float = Field(0.5, ge=0.5, le=1)
    # The learned reading speaks only on a reply that says something of the outcome: thanks for an
    # explanation, "noted" or "received" never close a ticket.
    outcome_words: dict[Language, list[Name]] = Field(default_factory=_outcome_words)
    # A question opening with one of these wants an answer, never closes ("Why did you close it?").
    question_words: dict[Language, list[Name]] = Field(default_factory=_question_words)
