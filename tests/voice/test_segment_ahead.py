"""A segment is decoded while the VAD confirms its end, and the caller who goes on after a
short pause still gets every word read (the early decode of the first part is dropped).

Real Silero VAD and Whisper over synthesised speech, through pipecat's run_test.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import run_test

from tests.voice.server import STT_RATE
from tests.voice.test_pipeline import audio_frames
from voice.frames import SegmentTranscribedFrame
from voice.services import SharedWhisperSTTService, VoiceServices

pytestmark = pytest.mark.slow


async def _heard(models: VoiceServices, audio: np.ndarray) -> tuple[str, SharedWhisperSTTService]:
    vad = models.new_vad()
    stt = models.new_stt(vad=vad)
    down, _ = await run_test(
        Pipeline([VADProcessor(vad_analyzer=vad), stt]),
        frames_to_send=audio_frames(audio, lead=0.5, tail=1.5),
        pipeline_params=PipelineParams(audio_in_sample_rate=STT_RATE),
        start_timeout=10,
    )
    words = " ".join(f.text.strip() for f in down if isinstance(f, TranscriptionFrame))
    return words.lower(), stt


async def test_a_segment_is_read_from_its_early_decode(voice_models, speech) -> None:
    words, stt = await _heard(voice_models, speech("Take a note to buy milk."))
    assert "note" in words and "milk" in words, words
    assert stt.ahead.used == 1


def _trimmed(audio: np.ndarray) -> np.ndarray:
    """The utterance without the silence Piper puts around it."""
    loud = np.nonzero(np.abs(audio) > 0.01)[0]
    return audio[loud[0] : loud[-1] + 1]


async def test_words_after_a_short_pause_are_read_with_the_rest(voice_models, speech) -> None:
    # Long enough for Silero to hear a few quiet windows, well short of the silence that ends
    # speech (0.2 s).
    gap = np.zeros(int(STT_RATE * 0.14), np.float32)
    first, rest = _trimmed(speech("Book a meeting with Bob")), _trimmed(speech("tomorrow at ten."))
    said = np.concatenate([first, gap, rest])
    words, stt = await _heard(voice_models, said)
    assert "bob" in words and "tomorrow" in words, words
    assert stt.ahead.dropped >= 1 and stt.ahead.used == 1


class InterruptOnWords(FrameProcessor):
    """Starts a turn on the caller's words as the turn processor does for an answer said over
    the bot: it acts on them a moment later, and interrupts everything queued behind them."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            await asyncio.sleep(0.2)
            await self.broadcast_interruption()


async def test_every_segment_end_outlasts_the_interruption_its_words_started(
    voice_models, speech
) -> None:
    gap = np.zeros(int(STT_RATE * 0.8), np.float32)
    said = np.concatenate([_trimmed(speech("No.")), gap, _trimmed(speech("Don't send it."))])
    vad = voice_models.new_vad()
    down, _ = await run_test(
        Pipeline(
            [VADProcessor(vad_analyzer=vad), voice_models.new_stt(vad=vad), InterruptOnWords()]
        ),
        frames_to_send=audio_frames(said, lead=0.5, tail=1.5),
        pipeline_params=PipelineParams(audio_in_sample_rate=STT_RATE),
        start_timeout=10,
    )
    # The turn-end strategy waits for each segment's end: a lost one kept the turn open.
    assert sum(isinstance(f, SegmentTranscribedFrame) for f in down) == 2
