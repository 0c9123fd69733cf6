"""Reading a caller's spoken answer: lexicon, negation, corrections, questions, misheard words.

Cases are written for these tests (not taken from the benchmark corpus). The safety rules are
checked as such: nothing that is not a yes reads as yes, and the model never overrules words.
"""

from __future__ import annotations

import pytest

from voice.answers import MIN_YES_LOGPROB, DecidedBy, Topic, doubted, read_answer
from voice.approvals import (
    KEYPAD_HINT,
    approval_question,
    judge_answer,
    pending_details,
    reask_question,
)


@pytest.mark.parametrize(
    "said",
    ["Yes.", "Yeah, sure.", "Go ahead, please.", "Of course, send it.", "Alright then.",
     "Uh, yep.", "No problem, do it.", "You bet, go for it.", "I don't mind."],
)  # fmt: skip
def test_plain_confirmations_are_yes(said: str) -> None:
    reading = read_answer(said)
    assert (reading.answer, reading.decided_by) == ("yes", DecidedBy.LEXICON)


@pytest.mark.parametrize(
    "said",
    ["Nope.", "Drop it.", "Scrap that.", "No need.", "Hang on, don't.", "Not now.",
     "Don't do it.", "Forget about it, forget it.", "Nah, leave it.", "I'd rather not.",
     "Of course not.", "Not yet, thanks."],
)  # fmt: skip
def test_refusals_and_negated_confirmations_are_no(said: str) -> None:
    assert read_answer(said).answer == "no"


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("Sure... sorry, I mean no.", "no"),
        ("Yes, wait, no.", "no"),
        ("Okay, actually, cancel it.", "no"),
        ("No, sorry, I mean yes.", "yes"),
        ("Nah, on second thought, go ahead.", "yes"),
        ("Yes. No, wait.", "unclear"),
        ("Sure, hold on.", "unclear"),
    ],
)
def test_after_a_correction_marker_the_last_answer_counts(said: str, answer: str) -> None:
    assert read_answer(said).answer == answer


@pytest.mark.parametrize(
    "said", ["Yes. Send it. No. Don't send it.", "Yeah, no.", "Okay. Actually no.", "Sure, no."]
)
def test_a_no_after_a_yes_takes_it_back_without_a_marker(said: str) -> None:
    assert read_answer(said).answer == "no"


@pytest.mark.parametrize(
    ("said", "topic"),
    [
        ("Hang on, which meeting is that?", Topic.ACTION),
        ("Who does it go to?", Topic.RECIPIENT),
        ("No, wait, who is getting it?", Topic.RECIPIENT),
        ("When is it?", Topic.TIME),
        ("What's it about?", Topic.SUBJECT),
        ("Sorry, what was the question?", Topic.REPEAT),
    ],
)
def test_a_question_back_is_unclear_and_says_what_it_asks(said: str, topic: Topic) -> None:
    reading = read_answer(said)
    assert (reading.answer, reading.question) == ("unclear", topic)


@pytest.mark.parametrize(
    "said",
    ["Maybe.", "I'm not sure.", "Yes, but only after lunch.", "Yes, if it's cheap.",
     "Yes and no.", "Probably.", "No. Yes.", "Send it to Carol instead.", "Hmm.", "",
     "Um, I don't know.", "Maybe not.", "Why?", "Wait."],
)  # fmt: skip
def test_hedges_conditions_and_mixed_answers_are_never_yes(said: str) -> None:
    assert read_answer(said).answer == "unclear"


def test_a_long_utterance_is_another_request_not_an_answer() -> None:
    said = "yes and also remind me to call my sister about the party next weekend at her place"
    assert read_answer(said).answer == "unclear"


@pytest.mark.parametrize(
    ("heard", "answer"),
    [
        ("Solutely.", "yes"),  # "absolutely" without its first syllable
        ("Sounds could.", "yes"),
        ("Of cores.", "yes"),
        ("Go a head.", "yes"),
        ("Scrap hit.", "no"),
        ("Cancer it.", "no"),
        ("Denay.", "no"),
    ],
)
def test_misheard_answer_words_are_matched_by_sound(heard: str, answer: str) -> None:
    reading = read_answer(heard)
    assert (reading.answer, reading.decided_by) == (answer, DecidedBy.FUZZY)


@pytest.mark.parametrize(
    "heard", ["Please go.", "Guess.", "Corrupt.", "Goal ahead.", "Yet.", "Good night.", "Good."]
)
def test_near_misses_of_yes_words_do_not_become_yes(heard: str) -> None:
    assert read_answer(heard).answer != "yes"


async def test_the_model_only_fills_in_when_the_words_say_nothing_known() -> None:
    asked: list[str] = []

    async def always_yes(question: str, text: str) -> str:
        asked.append(text)
        return "yes"

    model = always_yes
    assert (await judge_answer("Send it?", "Drop it.", model)).answer == "no"  # type: ignore[arg-type]
    assert (await judge_answer("Send it?", "Maybe.", model)).answer == "unclear"  # type: ignore[arg-type]
    assert (await judge_answer("Send it?", "Who gets it?", model)).answer == "unclear"  # type: ignore[arg-type]
    reading = await judge_answer("Send it?", "I reckon so", model)  # type: ignore[arg-type]
    assert (reading.answer, reading.decided_by) == ("yes", DecidedBy.MODEL)
    assert asked == ["I reckon so"]


MEETING = {
    "tool_name": "calendar_book_meeting",
    "arguments_json": {
        "title": "Budget review",
        "start": "2026-12-01T10:00:00",
        "attendees": ["bob@example.com"],
    },
}
EMAIL = {"tool_name": "email.send", "arguments_json": {"to": "Bob", "subject": "the budget"}}


def test_questions_about_the_action_are_answered_from_its_arguments() -> None:
    assert pending_details(EMAIL, Topic.RECIPIENT) == "It goes to Bob."
    assert pending_details(EMAIL, Topic.SUBJECT) == "It's about the budget."
    assert pending_details(MEETING, Topic.TIME) == "It's for Tuesday December 1 at 10 a.m."
    described = pending_details(MEETING, Topic.ACTION)
    assert "Budget review" in described and "bob@example.com" in described
    # A topic the arguments cannot answer falls back to the whole action.
    assert "the budget" in pending_details(EMAIL, Topic.TIME)


def test_the_phone_reask_offers_the_keypad() -> None:
    assert reask_question(EMAIL, keypad=True).endswith(KEYPAD_HINT)
    assert KEYPAD_HINT not in reask_question(EMAIL)
    assert "Should I send email to Bob?" in reask_question(EMAIL, keypad=True)
    assert approval_question(EMAIL) == "Should I send email to Bob? Please say yes or no."


@pytest.mark.parametrize(
    ("heard", "answer"),
    [
        ("Yes, I know.", "unclear"),
        ("Yes, it is under $100.", "unclear"),
        ("Yes, thanks.", "yes"),
        # a word the recogniser writes for "not" or "no" right after the yes
        ("Definitely art.", "unclear"),
        ("That's right now.", "unclear"),
        ("Yes I know.", "unclear"),
        ("Sure, right now.", "yes"),
        ("Definitely.", "yes"),
    ],
)
def test_a_yes_with_words_the_lexicon_cannot_explain_is_unclear(heard: str, answer: str) -> None:
    assert read_answer(heard).answer == answer


@pytest.mark.parametrize(
    "said",
    ["No, wait, do it going too.", "Sure, whatever you reckon is best.", "Okay the red bicycle."],
)
def test_a_yes_wrapped_in_words_it_does_not_explain_is_asked_again(said: str) -> None:
    assert read_answer(said).answer == "unclear"


@pytest.mark.parametrize(
    "said",
    ["Yes, send it to Alice.", "Yeah, go ahead and book the meeting.", "Sure, that's fine by me."],
)
def test_a_yes_that_says_the_action_back_is_still_yes(said: str) -> None:
    assert read_answer(said).answer == "yes"


def test_a_yes_the_recogniser_was_unsure_of_is_asked_again() -> None:
    heard = read_answer("Yeah.")
    assert doubted(heard, MIN_YES_LOGPROB - 0.5).answer == "unclear"
    assert doubted(heard, MIN_YES_LOGPROB + 0.5).answer == "yes"
    assert doubted(heard, None).answer == "yes"
    # Only a yes is doubted: an unsure no still does nothing, which is safe.
    assert doubted(read_answer("No."), MIN_YES_LOGPROB - 0.5).answer == "no"


def test_a_yes_heard_only_with_the_calls_biasing_is_asked_again() -> None:
    assert doubted(read_answer("That's right."), None, yes_disputed=True).answer == "unclear"
    assert doubted(read_answer("That's right."), None, yes_disputed=False).answer == "yes"
    assert doubted(read_answer("No, don't."), None, yes_disputed=True).answer == "no"
