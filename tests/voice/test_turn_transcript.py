"""A turn said with pauses is read as one clip: the new words of each reading, and when the
reading cannot be lined up with what was heard."""

from __future__ import annotations

import pytest

from voice.turn_transcript import JOINS_TURN_SECS, MAX_TURN_SECS, TurnAudio, words_after

RATE = 16000


@pytest.mark.parametrize(
    ("heard", "whole", "new"),
    [
        ("Sure. Sorry, I", "Sure, sorry, I mean no.", "mean no."),
        ("Take a note.", "Take a note, buy milk and eggs.", "buy milk and eggs."),
        # The last word heard before the pause often changes once the next words are heard.
        ("Book a meeting with", "Book a meeting with Alice at ten.", "Alice at ten."),
        ("Move my launch with Carol.", "Move my lunch with Carol to one.", "to one."),
        ("", "Yes, go ahead.", "Yes, go ahead."),
        ("No, wait.", "No, wait.", ""),
    ],
)
def test_the_new_words_are_what_follows_the_restated_part(heard: str, whole: str, new: str) -> None:
    assert words_after(heard, whole) == new


@pytest.mark.parametrize(
    ("heard", "whole"),
    [
        ("Cancel the meeting on Monday.", "Yes."),
        ("Email Bob saying the report is done", "Email Bob."),
    ],
)
def test_a_reading_that_drops_what_was_heard_gives_no_new_words(heard: str, whole: str) -> None:
    assert words_after(heard, whole) is None


def _pcm(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def test_only_segments_of_an_open_turn_are_read_together() -> None:
    turn = TurnAudio()
    first, second = _pcm(1.0), _pcm(0.5)
    assert turn.context_for(first, RATE) is None  # nothing before it
    turn.add(first, "mm-hmm", at=10.0)  # words over the bot: no turn open
    turn.start(at=10.5)  # the caller goes on: "mm-hmm, wait"
    assert turn.context_for(second, RATE) == first + second
    turn.add(second, "wait")
    assert turn.replace_heard("mm-hmm wait") == 2
    assert turn.heard == ["mm-hmm wait"]
    turn.end()
    assert turn.context_for(first, RATE) is None
    assert turn.heard == []


def test_a_murmur_long_before_a_turn_is_no_part_of_it() -> None:
    turn = TurnAudio()
    turn.add(_pcm(0.5), "M.H.M.", at=10.0)  # a backchannel over the bot's story
    turn.start(at=10.0 + JOINS_TURN_SECS + 3.0)  # the next request, after the story
    request = _pcm(1.5)
    assert turn.context_for(request, RATE) is None
    turn.add(request, "Tell me a short story.")
    assert turn.heard == ["Tell me a short story."]


def test_words_over_the_bot_stand_alone_until_a_turn_opens() -> None:
    turn = TurnAudio()
    turn.add(_pcm(0.5), "mm-hmm")
    turn.add(_pcm(0.5), "yeah")
    assert turn.heard == ["yeah"]
    assert len(turn.segments) == 1


def test_a_turn_too_long_for_one_clip_is_read_segment_by_segment() -> None:
    turn = TurnAudio()
    turn.start()
    turn.add(_pcm(MAX_TURN_SECS), "a long story")
    assert turn.context_for(_pcm(1.0), RATE) is None
