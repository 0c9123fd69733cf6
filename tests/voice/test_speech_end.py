"""The end of the caller's speech read from the audio: the last voiced frame, within what the
VAD allows."""

from __future__ import annotations

import numpy as np
import pytest

from voice.speech_end import VoiceClock

FRAME_SECS = 0.02


def _frame(level: float) -> bytes:
    t = np.arange(int(16000 * FRAME_SECS)) / 16000
    return (level * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16).tobytes()


def _feed(clock: VoiceClock, levels: list[float], start: float = 100.0) -> float:
    at = start
    for level in levels:
        clock.heard(_frame(level), at)
        at += FRAME_SECS
    return at


def test_speech_ends_at_the_last_voiced_frame_not_where_the_vad_guessed():
    clock = VoiceClock()
    # One second of voice, then a fading tail and line hiss.
    end = _feed(clock, [0.3] * 50 + [0.05, 0.005] + [0.0005] * 10)
    last_voice = 100.0 + 50 * FRAME_SECS
    vad_estimate = end - 0.1
    assert clock.speech_ended(vad_estimate) == pytest.approx(last_voice)


def test_noise_after_the_speech_never_makes_it_end_later_than_the_vad_says():
    clock = VoiceClock()
    end = _feed(clock, [0.3] * 50 + [0.2] * 20)
    assert clock.speech_ended(end - 0.3) == end - 0.3


def test_a_voice_heard_long_before_the_vad_estimate_leaves_the_estimate():
    clock = VoiceClock()
    end = _feed(clock, [0.3] * 10 + [0.0] * 50)
    assert clock.speech_ended(end - 0.05) == end - 0.05


def test_a_quiet_caller_is_timed_by_their_own_level():
    clock = VoiceClock()
    end = _feed(clock, [0.02] * 50 + [0.0005] * 10)
    assert clock.speech_ended(end - 0.05) == pytest.approx(100.0 + 49 * FRAME_SECS)


def test_a_new_word_after_the_pause_is_a_sound_until_quiet_follows():
    clock = VoiceClock()
    stopped = _feed(clock, [0.3] * 50 + [0.0] * 15)
    assert not clock.sounding(stopped, now=stopped)
    # "At ... noon": a word, a hush inside the phrase, more words.
    at = _feed(clock, [0.2] * 5 + [0.0] * 6 + [0.2] * 5, start=stopped)
    assert clock.sounding(stopped, now=at)
    assert clock.sounding(stopped, now=stopped + 0.22)
    assert not clock.sounding(stopped, now=at + 0.3)


def test_steady_line_noise_is_not_a_sound():
    clock = VoiceClock()
    stopped = _feed(clock, [0.3] * 50 + [0.01] * 60)
    at = _feed(clock, [0.01] * 20, start=stopped)
    assert not clock.sounding(stopped, now=at)
    # A word over the same noise is.
    at = _feed(clock, [0.2] * 3, start=at)
    assert clock.sounding(stopped, now=at)
