"""The call pipeline under pipecat's run_test, on real models and a real store.

Synthesised speech goes in as audio frames; the request must reach the run core as text, the
run's answer must come out as audio, and Whisper must hear the short answer in that audio.
"""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.frames.frames import InputAudioRawFrame, TTSAudioRawFrame, TTSStoppedFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import SleepFrame, run_test

from tests.voice.server import (
    CAPITAL_ANSWER,
    STT_RATE,
    approval_gate,
    running_worker,
    server_settings,
    services_for,
    sounds_like,
)
from voice.pipeline import call_processors
from voice.session import CallSession
from voice.turn_timing import CallMetrics

pytestmark = pytest.mark.slow
FRAME_BYTES = 640  # 20 ms of 16 kHz mono int16


def audio_frames(audio: np.ndarray, lead: float, tail: float) -> list:
    """Microphone frames in real time: silence, the utterance, silence."""
    silence = lambda s: np.zeros(int(STT_RATE * s), np.float32)  # noqa: E731
    pcm = (np.concatenate([silence(lead), audio, silence(tail)]) * 32767).astype(np.int16)
    raw = pcm.tobytes()
    frames: list = []
    for i in range(0, len(raw), FRAME_BYTES):
        frames.append(
            InputAudioRawFrame(audio=raw[i : i + FRAME_BYTES], sample_rate=STT_RATE, num_channels=1)
        )
        frames.append(SleepFrame(0.02))
    return frames


async def test_spoken_request_reaches_the_run_and_the_answer_is_spoken(
    voice_models, engine, tmp_path, outbox, speech, transcribe
):
    settings, voice_settings = server_settings(tmp_path, engine)
    services = services_for(voice_models, settings, voice_settings, engine)
    call = CallSession(tenant_id="acme", user_id="dana", channel="browser")
    metrics = CallMetrics()
    request = speech("What is the capital of France?", speed=1.15, variability=0.5)

    with running_worker(engine, approval_gate(outbox)):
        down, _ = await run_test(
            Pipeline(call_processors(call, services, metrics)),
            frames_to_send=audio_frames(request, lead=1.5, tail=4.0),
            pipeline_params=PipelineParams(
                audio_in_sample_rate=STT_RATE, audio_out_sample_rate=STT_RATE
            ),
            start_timeout=10,
        )

    assert call.run_id is not None
    run = services.store.get_run("acme", "dana", call.run_id)
    assert "capital" in run["goal"].lower() and "france" in run["goal"].lower()
    assert run["channel"] == "voice"
    assert run["result"] == CAPITAL_ANSWER

    greeting_end = next(i for i, f in enumerate(down) if isinstance(f, TTSStoppedFrame))
    reply = [f for f in down[greeting_end:] if isinstance(f, TTSAudioRawFrame)]
    assert reply, "no reply audio was produced"
    pcm = np.frombuffer(b"".join(f.audio for f in reply), np.int16).astype(np.float32) / 32768
    heard = transcribe(pcm, reply[0].sample_rate).lower()
    assert sounds_like(heard, CAPITAL_ANSWER), heard
    assert len(metrics.turns) == 1 and metrics.turns[0].first_audio is not None
