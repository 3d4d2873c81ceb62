"""rules/feedback.py on small, explicit lists: where a negation, a problem, a condition or a question
stops counting, word by word (the shipped lists are tested in test_confirm.py)."""

from __future__ import annotations

import dataclasses

import pytest

from jsm_autopilot.rules.feedback import ReplyDecision, confirmation_in, judge_reply

WORKS = {"en": ["works"]}
NOT = {"en": ["not"]}


@pytest.mark.parametrize("text, found", [
    ("It works", "works"),
    ("not b works", None),  # a negation two words before denies
    ("not a b works", "works"),  # three words before does not
    ("works not", None),  # German puts it after the verb: one word after denies
    ("works now not", "works"),  # two words after does not
    ("works", "works"),
    ("", None),
])
def test_how_far_a_negation_reaches(text, found):
    assert confirmation_in(text, WORKS, NOT) == found


def judge(text: str, **lists) -> ReplyDecision:
    return judge_reply(text, lists.pop("phrases", WORKS), lists.pop("negations", {"en": ["no", "without"]}),
                       lists.pop("doubts", {}), lists.pop("question_words", {"en": ["why", "how"]}), **lists)


@pytest.mark.parametrize("text, closes", [
    ("It works, error gone", False),  # the problem stated in a clause of its own
    ("It works fine. No single other error", True),  # denied three words before
    ("It works fine. Without the single other error", False),  # four words before: too far to deny it
])
def test_how_far_a_denial_of_a_problem_reaches(text, closes):
    assert judge(text, problems={"en": ["error"]}).close is closes


def test_a_condition_keeps_it_open_unless_it_opens_a_permission_or_an_idiom():
    conditions = {"en": ["if", "once"]}
    permissions = {"en": ["if", "if you like"]}  # a one-word permission cannot cancel a condition
    assert judge("It works if the patch stays", conditions=conditions, permissions=permissions) == \
        ReplyDecision(False, "works", 'a condition ("if")')
    assert judge("It works, close if you like", conditions=conditions, permissions=permissions).close
    assert judge("Thanks once more, it works", conditions=conditions, permissions=permissions).close
    assert not judge("It works once the patch is in", conditions=conditions, permissions=permissions).close


def test_a_question_wants_an_answer_unless_it_asks_to_close():
    phrases = {"en": ["works", "close the ticket"]}
    assert judge("It works. How do I close the ticket?", phrases=phrases).why == '"works", but a question'
    # The question word is the fourth: the sentence asks to close, it wants no answer.
    assert judge("It works. Thanks a lot, how do I close the ticket?", phrases=phrases).close
    assert not judge("It works. Is it safe?", phrases=phrases).close


class _Reads:
    """A reading of replies that says `close` with a fixed likelihood (the protocol's one method)."""

    def __init__(self, likely: float):
        self.likely = likely

    def probabilities(self, text: str) -> dict[str, float]:
        return {"close": self.likely, "keep": 1 - self.likely}


def test_the_learned_reading_confirms_at_its_threshold_and_only_with_an_outcome_word():
    outcome = {"en": ["fine"]}
    at = judge("All fine here", phrases={}, learned=_Reads(0.5), learned_min_probability=0.5, outcome_words=outcome)
    assert at == ReplyDecision(True, "read as a confirmation, 50% likely", None)
    below = judge("All fine here", phrases={}, learned=_Reads(0.49), learned_min_probability=0.5, outcome_words=outcome)
    assert below == ReplyDecision(False, None, None)
    assert not judge("All good here", phrases={}, learned=_Reads(0.99), outcome_words=outcome).close


def test_an_automatic_reply_is_no_feedback_and_a_decision_is_a_value():
    decision = judge("Out of office: it works", auto_replies={"en": ["out of office"]})
    assert decision == ReplyDecision(False, None, None, "out of office")
    assert decision.why == 'an automatic reply ("out of office"), no feedback'
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.close = True  # type: ignore[misc]


def test_a_negation_inside_the_phrase_is_the_phrases_own():
    """ "no further questions" confirms: its "no" denies nothing around it."""
    phrases = {"en": ["no further questions"]}
    assert confirmation_in("There are no further questions from us", phrases, {"en": ["no"]}) == "no further questions"
    assert confirmation_in("no further questions", phrases, {"en": ["no"]}) == "no further questions"
