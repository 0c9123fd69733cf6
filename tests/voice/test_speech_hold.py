"""The gate on a call's outgoing audio: held audio waits, goes on when released, and is
dropped when the bot was interrupted meanwhile. The caller's first sound over the bot holds
it; a sound that never became speech lets it go on at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    Frame,
    InterruptionFrame,
    OutputAudioRawFrame,
    SystemFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import run_test
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from voice.frames import CallerSoundFrame
from voice.speech_hold import OutputHold, SpeechHold
from voice.turn_timing import CallMetrics


class RecordingOutput(BaseOutputTransport):
    """pipecat's output transport, writing to a list instead of a peer."""

    def __init__(self) -> None:
        super().__init__(TransportParams(audio_out_enabled=True))
        self.written: list[bytes] = []

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        self.written.append(frame.audio)
        return True


def _frame(tag: bytes) -> OutputAudioRawFrame:
    return OutputAudioRawFrame(audio=tag * 160, sample_rate=8000, num_channels=1)


async def test_held_audio_waits_and_goes_on_from_where_it_stopped_when_released():
    output, hold = RecordingOutput(), OutputHold()
    hold.install(output)
    assert await output.write_audio_frame(_frame(b"a"))
    hold.hold()
    pending = asyncio.ensure_future(output.write_audio_frame(_frame(b"b")))
    await asyncio.sleep(0)
    assert not pending.done() and len(output.written) == 1
    hold.release()
    assert await pending
    assert [w[:1] for w in output.written] == [b"a", b"b"]


async def test_audio_held_across_an_interruption_is_never_sent():
    output, hold = RecordingOutput(), OutputHold()
    hold.install(output)
    hold.hold()
    stale = asyncio.ensure_future(output.write_audio_frame(_frame(b"s")))
    await asyncio.sleep(0)
    hold.interrupt()
    hold.release()
    assert await stale is False
    assert await output.write_audio_frame(_frame(b"n"))
    assert [w[:1] for w in output.written] == [b"n"]


async def test_a_hold_nobody_releases_lets_audio_out_in_the_end():
    output, hold = RecordingOutput(), OutputHold(max_secs=0.01)
    hold.install(output)
    hold.hold()
    assert await output.write_audio_frame(_frame(b"x"))
    assert not hold.held


def test_only_an_output_transport_can_be_held():
    with pytest.raises(TypeError):
        OutputHold().install(object())  # type: ignore[arg-type]


@dataclass
class Look(SystemFrame):
    """Asks the probe whether the bot's audio is held now."""


class Probe(FrameProcessor):
    """Notes, at each look, whether the gate holds the bot's audio."""

    def __init__(self, hold: OutputHold) -> None:
        # Direct: it looks when the hold pushes the frame, not later from a queue of its own.
        super().__init__(enable_direct_mode=True)
        self.hold = hold
        self.seen: list[bool] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, Look):
            self.seen.append(self.hold.held)
        await self.push_frame(frame, direction)


async def _held_at_each_look(frames: list[Frame]) -> tuple[list[bool], CallMetrics]:
    hold, metrics = OutputHold(), CallMetrics()
    # A resume that would come only long after the test: what is seen is the frames' doing.
    probe = Probe(hold)
    await run_test(
        Pipeline([SpeechHold(hold, metrics, resume_after_secs=60), probe]),
        frames_to_send=frames,
    )
    return probe.seen, metrics


async def test_the_first_sound_over_the_bot_holds_it_and_a_dropped_one_lets_it_go_on():
    seen, metrics = await _held_at_each_look(
        [
            BotStartedSpeakingFrame(),
            CallerSoundFrame(started=True),
            Look(),
            CallerSoundFrame(started=False),
            Look(),
        ]
    )
    assert seen == [True, False]
    assert metrics.audio_held_at is not None


async def test_a_sound_while_the_bot_is_silent_holds_nothing():
    seen, metrics = await _held_at_each_look([CallerSoundFrame(started=True), Look()])
    assert seen == [False]
    assert metrics.audio_held_at is None


async def test_after_speech_a_new_sound_does_not_end_the_wait_for_more():
    seen, _ = await _held_at_each_look(
        [
            BotStartedSpeakingFrame(),
            CallerSoundFrame(started=True),
            VADUserStartedSpeakingFrame(),
            VADUserStoppedSpeakingFrame(),
            Look(),
            # A breath in the pause after "Stop,": the caller may still go on.
            CallerSoundFrame(started=True),
            CallerSoundFrame(started=False),
            Look(),
            InterruptionFrame(),
            Look(),
        ]
    )
    assert seen == [True, True, False]
