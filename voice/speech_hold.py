"""The bot falls quiet the moment the caller starts talking over it.

Whether speech over the bot is a barge-in or a backchannel ("uh-huh") is known only once it
has gone on for a while (:mod:`voice.backchannels`). Waiting that long before the bot stopped
made every real barge-in take about a second. Instead the bot's outgoing audio is held at the
caller's first sound: a barge-in then flushes what was held (the usual interruption, with the
phone provider's ``clear``), and a backchannel lets the bot go on from where it paused, with
nothing lost or repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_output import BaseOutputTransport

from voice.backchannels import JOIN_SECS
from voice.frames import CallerSoundFrame
from voice.turn_timing import CallMetrics

# Noise the VAD never hears the end of must not silence the bot for good. Well under pipecat's
# audio write timeout (10 s), past which it gives the transport up.
MAX_HOLD_SECS = 4.0


class OutputHold:
    """A gate on one call's outgoing audio: open, or held since a moment."""

    def __init__(self, max_secs: float = MAX_HOLD_SECS) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._max_secs = max_secs
        # Bumped by an interruption: a write held from before it carries stale audio.
        self._interruptions = 0
        self.held_at: float | None = None
        """When the latest hold began (monotonic seconds), if there was one."""

    @property
    def held(self) -> bool:
        """Whether audio is being held now."""
        return not self._open.is_set()

    def hold(self) -> None:
        """Stop letting audio out, keeping what is not yet sent."""
        if not self.held:
            self.held_at = time.monotonic()
            self._open.clear()

    def release(self) -> None:
        """Let audio out again, from where it stopped."""
        self._open.set()

    def interrupt(self) -> None:
        """The bot was interrupted: audio held until now is never sent."""
        self._interruptions += 1

    async def wait(self) -> bool:
        """Wait until audio may go out (at the latest ``max_secs`` into a hold); False when
        an interruption came meanwhile, so the audio that waited is stale."""
        if not self.held:
            return True
        interruptions = self._interruptions
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._open.wait(), timeout=self._max_secs)
        self.release()
        return interruptions == self._interruptions

    def install(self, output: FrameProcessor) -> None:
        """Make ``output`` wait at this gate before each audio write.

        pipecat builds each transport's output processor itself (websocket, WebRTC), so the
        gate wraps that one instance's write rather than subclassing every transport. A held
        write keeps the transport's own queue (and its pacing) intact; an interruption cancels
        the waiting write like any other.
        """
        if not isinstance(output, BaseOutputTransport):
            raise TypeError(f"{output} is not an output transport")
        write = output.write_audio_frame

        async def held_write(frame: OutputAudioRawFrame) -> bool:
            return await self.wait() and await write(frame)

        output.write_audio_frame = held_write  # type: ignore[method-assign]


class SpeechHold(FrameProcessor):
    """Holds the bot's audio while the caller speaks over it; placed before the output.

    The caller's first sound over the bot holds it (:mod:`voice.speech_onset`). A sound the
    VAD drops before calling it speech lets the bot go on at once; after speech, the bot goes
    on shortly after the VAD's end of it, unless the caller goes on too (a pause inside "Stop,
    ... that's enough"). A barge-in in between interrupts the bot as before: what was held is
    dropped, and the gate opens for the answer.
    """

    def __init__(
        self, hold: OutputHold, metrics: CallMetrics, resume_after_secs: float = JOIN_SECS
    ) -> None:
        super().__init__(name="speech-hold")
        self.hold = hold
        self.metrics = metrics
        self._resume_after_secs = resume_after_secs
        self._bot_speaking = False
        # Whether the VAD confirmed speech during the current hold, and is still hearing it.
        self._spoke = False
        self._speaking = False
        self._resume: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Pass every frame on; hold or release the bot's audio on the caller's speech."""
        await super().process_frame(frame, direction)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, CallerSoundFrame):
            await self._caller_sound(frame.started)
            # Nothing past the output needs it.
            return
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self._hold_over_the_bot()
            self._speaking = True
            self._spoke = self._spoke or self.hold.held
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
            if self.hold.held:
                await self._resume_in(self._resume_after_secs)
        elif isinstance(frame, InterruptionFrame):
            # The held audio is dropped; what the bot says next (its answer) must not wait.
            await self._cancel_resume()
            self.hold.interrupt()
            self._release()
        elif isinstance(frame, EndFrame | CancelFrame):
            await self._cancel_resume()
            self._release()
        await self.push_frame(frame, direction)

    async def _caller_sound(self, started: bool) -> None:
        if started:
            await self._hold_over_the_bot()
        elif self.hold.held and not self._speaking:
            # A sound that never became speech: at once, unless it came in the pause after
            # speech, where the bot still waits to see whether the caller goes on.
            await self._resume_in(self._resume_after_secs if self._spoke else 0.0)

    async def _hold_over_the_bot(self) -> None:
        await self._cancel_resume()
        if self._bot_speaking and not self.hold.held:
            self.hold.hold()
            self.metrics.audio_held_at = self.hold.held_at

    async def _resume_in(self, secs: float) -> None:
        await self._cancel_resume()
        if secs <= 0:
            self._release()
        else:
            self._resume = self.create_task(self._resume_soon(secs), name="speech-hold-resume")

    async def _resume_soon(self, secs: float) -> None:
        await asyncio.sleep(secs)
        self._resume = None
        self._release()

    def _release(self) -> None:
        self._spoke = False
        self.hold.release()

    async def _cancel_resume(self) -> None:
        if self._resume is not None:
            await self.cancel_task(self._resume)
            self._resume = None
