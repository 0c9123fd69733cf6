"""A yes to an awaited question counts only when Whisper hears it with and without the call's
biasing: the command prompt can turn a misheard refusal into a fluent yes.

Real Silero VAD and Whisper over synthesised speech.
"""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.tests.utils import run_test

from tests.voice.server import STT_RATE
from tests.voice.test_pipeline import audio_frames
from voice.frames import AnswerAwaitedFrame, HeardConfidence
from voice.services import VoiceServices

pytestmark = pytest.mark.slow


def _pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()


async def test_a_yes_whisper_heard_only_with_biasing_is_disputed(voice_models, speech) -> None:
    stt = voice_models.new_stt(["Alice Smith"])
    refusal = _pcm(speech("Not right now."))

    # As if the biased decode had written the refusal as a fluent yes.
    assert await stt.yes_disputed(refusal, "That's right.")
    # A yes that is really there is heard again without biasing.
    assert not await stt.yes_disputed(_pcm(speech("Yes, go ahead.")), "Yes, go ahead.")
    # Only a yes is checked: a no is never turned into anything else.
    assert not await stt.yes_disputed(refusal, "Not right now.")


async def _heard(
    models: VoiceServices, audio: np.ndarray, awaited: bool
) -> list[TranscriptionFrame]:
    vad = models.new_vad()
    before: list[Frame] = [AnswerAwaitedFrame(awaited=awaited)]
    down, _ = await run_test(
        Pipeline([VADProcessor(vad_analyzer=vad), models.new_stt(["Alice Smith"], vad=vad)]),
        frames_to_send=[*before, *audio_frames(audio, lead=0.5, tail=1.5)],
        pipeline_params=PipelineParams(audio_in_sample_rate=STT_RATE),
        start_timeout=10,
    )
    return [f for f in down if isinstance(f, TranscriptionFrame)]


async def test_a_clear_yes_to_an_awaited_question_is_taken(voice_models, speech) -> None:
    heard = await _heard(voice_models, speech("Yes, go ahead."), awaited=True)
    assert "yes" in " ".join(f.text for f in heard).lower()
    for frame in heard:
        assert isinstance(frame.result, HeardConfidence)
        assert not frame.result.yes_disputed
