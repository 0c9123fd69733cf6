"""The caller's first sound is announced before the VAD confirms it as speech, and a sound the
VAD drops is announced as dropped.

Real Silero VAD over synthesised speech, through pipecat's run_test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from pipecat.frames.frames import Frame, InputAudioRawFrame, VADUserStartedSpeakingFrame
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import run_test

from tests.voice.server import STT_RATE
from tests.voice.test_pipeline import audio_frames
from voice.frames import CallerSoundFrame
from voice.services import VAD_START_SECS, VoiceServices
from voice.speech_onset import OnsetVADProcessor

pytestmark = pytest.mark.slow


async def _through_the_vad(models: VoiceServices, audio: np.ndarray) -> Sequence[Frame]:
    down, _ = await run_test(
        OnsetVADProcessor(models.new_vad()),
        frames_to_send=audio_frames(audio, lead=0.5, tail=0.5),
        pipeline_params=PipelineParams(audio_in_sample_rate=STT_RATE),
        start_timeout=10,
    )
    return down


def _index(frames: Sequence[Frame], kind: type, started: bool | None = None) -> int:
    return next(
        i
        for i, f in enumerate(frames)
        if isinstance(f, kind) and (started is None or getattr(f, "started", None) == started)
    )


async def test_the_first_sound_comes_before_the_vad_starts_counting_speech(
    voice_models, speech
) -> None:
    down = await _through_the_vad(voice_models, speech("No, that is not right.", variability=0.0))
    sound = _index(down, CallerSoundFrame, started=True)
    confirmed = _index(down, VADUserStartedSpeakingFrame)
    # Announced with the first window Silero hears voice in: at least the VAD's whole start
    # (0.15 s of voice) before it confirms speech, not once a smoothed loudness catches up.
    audio_between = [f for f in down[sound:confirmed] if isinstance(f, InputAudioRawFrame)]
    heard_secs = sum(len(f.audio) for f in audio_between) / 2 / STT_RATE
    assert heard_secs >= VAD_START_SECS, heard_secs
    assert not any(isinstance(f, CallerSoundFrame) for f in down[sound + 1 : confirmed])


async def test_a_sound_too_short_for_speech_is_dropped(voice_models, speech) -> None:
    said = speech("Ah.", variability=0.0)
    loud = np.nonzero(np.abs(said) > 0.05)[0]
    # 90 ms of a voiced sound: under the VAD's 0.15 s start.
    blip = said[loud[0] : loud[0] + int(STT_RATE * 0.09)]
    down = await _through_the_vad(voice_models, blip)
    sounds = [f.started for f in down if isinstance(f, CallerSoundFrame)]
    assert sounds == [True, False], sounds
    assert not any(isinstance(f, VADUserStartedSpeakingFrame) for f in down)
