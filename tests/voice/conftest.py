"""Voice test fixtures: real models loaded once per session, speech synthesised at test time.

The caller's speech is made by Piper with varied speed and variability per utterance (and
varied phrasings across tests), so the tests do not tune to one recording. Replies are
checked by transcribing the bot's audio with Whisper.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import soxr

from core.config import Settings
from tests.voice.server import STT_RATE, EmailOutbox
from voice.config import VoiceSettings
from voice.services import VoiceServices, load_voice_services


@pytest.fixture(scope="session")
def voice_models(tmp_path_factory: pytest.TempPathFactory) -> VoiceServices:
    """Whisper, Piper and Silero, loaded once for the whole session."""
    from core.store.db import make_engine

    data = tmp_path_factory.mktemp("voice-models")
    engine = make_engine(f"sqlite:///{data / 'unused.db'}")
    return load_voice_services(Settings(data_dir=data), VoiceSettings(), engine)


@pytest.fixture
def outbox() -> EmailOutbox:
    """What the test tool really sent."""
    return EmailOutbox()


def synthesise(models: VoiceServices, text: str, speed: float, variability: float) -> np.ndarray:
    """A caller's utterance by Piper at 16 kHz (float32)."""
    from piper import SynthesisConfig

    voice = models.piper
    config = SynthesisConfig(length_scale=speed, noise_scale=variability, noise_w_scale=0.8)
    pcm = np.concatenate(
        [np.frombuffer(c.audio_int16_bytes, np.int16) for c in voice.synthesize(text, config)]
    )
    audio = pcm.astype(np.float32) / 32768.0
    return soxr.resample(audio, voice.config.sample_rate, STT_RATE).astype(np.float32)


@pytest.fixture
def speech(voice_models: VoiceServices) -> Callable[..., np.ndarray]:
    """``speech(text, speed=1.0, variability=0.667)``: synthesised caller speech, 16 kHz."""

    def synth(text: str, speed: float = 1.0, variability: float = 0.667) -> np.ndarray:
        return synthesise(voice_models, text, speed, variability)

    return synth


@pytest.fixture
def transcribe(voice_models: VoiceServices) -> Callable[[np.ndarray, int], str]:
    """What Whisper hears in bot audio (float samples at ``rate``).

    The listener is faster-whisper's own decoding (beam search of 5, with timestamps), its
    most faithful reading: greedy decoding can end a long reply early and drop its last
    clause. It checks what the bot said; it is not the product's STT under test.
    """
    model = voice_models.whisper.model

    def run(audio: np.ndarray, rate: int) -> str:
        if rate != STT_RATE:
            audio = soxr.resample(audio, rate, STT_RATE).astype(np.float32)
        segments, _ = model.transcribe(
            audio, language="en", beam_size=5, condition_on_previous_text=False, vad_filter=False
        )
        return " ".join(s.text.strip() for s in segments)

    return run
