"""A long first sentence is synthesised clause first; nothing of the reply is lost or reordered."""

from __future__ import annotations

import pytest

from voice.speech_pieces import speech_pieces


@pytest.mark.parametrize(
    ("reply", "first"),
    [
        (
            "You have two meetings on Wednesday: standup at 9 and lunch with Carol at 12:30.",
            "You have two meetings on Wednesday:",
        ),
        (
            "Book a meeting with Alice Smith tomorrow, Tuesday December 1st, at 10 AM?",
            "Book a meeting with Alice Smith tomorrow,",
        ),
    ],
)
def test_a_long_first_sentence_starts_with_its_first_clause(reply: str, first: str) -> None:
    pieces = speech_pieces(reply)

    assert pieces[0] == first
    assert " ".join(pieces) == reply


@pytest.mark.parametrize(
    "reply",
    [
        "Okay, done.",
        "Done. You have a meeting at 12:30 with Bob, Carol and Dave tomorrow.",
        "You have lunch with Carol at 12:30 and standup at 9 tomorrow.",
        "Yes, I sent the email to Bob about the budget review for next week.",
        "",
    ],
)
def test_short_or_unbroken_first_sentences_are_synthesised_whole(reply: str) -> None:
    assert speech_pieces(reply) == [reply]
