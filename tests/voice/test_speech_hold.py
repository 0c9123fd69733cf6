"""The gate on a call's outgoing audio: held audio waits, goes on when released, and is
dropped when the bot was interrupted meanwhile."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from voice.speech_hold import OutputHold


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
