"""Whisper over a window sized to the speech: the words heard once, and how sure it was."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from sqlalchemy import create_engine

from core.config import Settings
from voice.answers import MIN_YES_LOGPROB
from voice.config import VoiceSettings
from voice.services import VoiceServices, load_voice_services
from voice.whisper_decode import collect_heard, drop_repeats


@pytest.mark.parametrize(
    ("heard", "kept"),
    [
        ("Stop. Stop. Stop.", "Stop."),
        ("Forget it. Forget it. Forget", "Forget it."),
        (
            "What are you able to help me with? What are you able to help",
            "What are you able to help me with?",
        ),
        ("Come again, come again, come again,", "Come again,"),
        ("Yes, yes, yes, yes", "Yes,"),
        ("Yes, go, go, go, go, go, go, go, go,", "Yes, go,"),
        ("Book it for, for the, for the, for the, for the", "Book it for, for the,"),
        (
            "Email Priya about the budget. Email Priya about the budget. Email Pri",
            "Email Priya about the budget.",
        ),
    ],
)
def test_a_transcript_said_again_by_the_decoder_is_kept_once(heard: str, kept: str) -> None:
    assert drop_repeats(heard) == kept


@pytest.mark.parametrize(
    "said",
    [
        "Cancel the meeting. Cancel the lunch too.",
        "Bob, Bob Jones.",
        "Move it to ten, no, eleven.",
        "I know that that is fine.",
        "What do I have on Wednesday? What",
        "",
    ],
)
def test_what_the_caller_really_repeated_or_said_once_is_left_alone(said: str) -> None:
    assert drop_repeats(said) == said


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9 ]", " ", text.lower()).split()


@pytest.mark.slow  # real Whisper and Piper
@pytest.mark.parametrize(
    ("said", "key_words"),
    [
        ("Stop.", ["stop"]),
        ("Cancel my dentist appointment on Friday.", ["cancel", "dentist", "friday"]),
        ("What do I have on Wednesday?", ["what", "wednesday"]),
    ],
)
def test_the_speech_window_hears_each_word_once(
    voice_models: VoiceServices,
    speech: Callable[..., np.ndarray],
    said: str,
    key_words: list[str],
) -> None:
    audio = speech(said, variability=0.3)

    segments, _ = voice_models.whisper.transcribe(audio, language="en")
    heard = _words(" ".join(s.text for s in segments))

    for word in key_words:
        assert heard.count(word) == 1, heard


@pytest.mark.slow  # real Whisper and Piper
def test_speech_longer_than_the_short_window_is_heard_to_its_end(
    voice_models: VoiceServices, speech: Callable[..., np.ndarray]
) -> None:
    said = (
        "Please take a note that the plumber comes on Thursday morning, that the spare key "
        "is under the blue flower pot by the back door, and that he needs the code for the "
        "garage, which is four five six seven."
    )
    audio = speech(said, speed=1.3, variability=0.3)
    assert len(audio) / 16000 > 10

    segments, _ = voice_models.whisper.transcribe(audio, language="en")
    heard = _words(" ".join(s.text for s in segments))

    assert "plumber" in heard and "garage" in heard


def test_an_unknown_window_stops_the_voice_services_from_starting(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = create_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    with pytest.raises(ValueError, match="BATON_WHISPER_WINDOW='wide'"):
        load_voice_services(settings, VoiceSettings(whisper_window="wide"), engine)


@pytest.mark.parametrize("beam", [0, 11])
def test_a_beam_size_out_of_range_stops_the_voice_services_from_starting(
    tmp_path, beam: int
) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = create_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    with pytest.raises(ValueError, match=f"BATON_WHISPER_BEAM_SIZE={beam}"):
        load_voice_services(settings, VoiceSettings(whisper_beam_size=beam), engine)


@pytest.mark.slow  # real Whisper and Piper
def test_a_clearly_spoken_yes_is_heard_as_sure(
    voice_models: VoiceServices, speech: Callable[..., np.ndarray]
) -> None:
    with collect_heard() as heard:
        segments, _ = voice_models.whisper.transcribe(speech("Yes, go ahead."), language="en")

    assert [s.text for s in heard] == [s.text for s in segments]
    assert "yes" in _words(heard[0].text)
    assert MIN_YES_LOGPROB < heard[0].avg_logprob <= 0.0
