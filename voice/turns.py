"""End of turn that waits for every speech segment's transcript.

Whisper transcribes each VAD segment after it ends, one at a time. On a busy machine the
transcript of an earlier segment ("No,") can arrive after the caller has already said the
next one ("don't send it"), and pipecat's stop strategies take that finalized transcript as
"nothing more is coming": the turn ended with half an answer. Here the STT marks the end of
every segment (even one with no words) and the stop strategies hold the end of the turn until
no segment is left untranscribed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import (
    Frame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import (
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)

from voice.frames import AnswerAwaitedFrame, SegmentTranscribedFrame, TurnTranscriptFrame


class _AfterAllSegments:
    """Mixin for a stop strategy: defer its end of turn while a segment awaits its transcript."""

    _pending_segments = 0
    _deferred_stop: dict[str, Any] | None = None

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._pending_segments += 1
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._deferred_stop = None
        result: ProcessFrameResult = await super().process_frame(frame)  # type: ignore[misc]
        if isinstance(frame, SegmentTranscribedFrame):
            self._pending_segments = max(0, self._pending_segments - 1)
            if self._pending_segments == 0 and self._deferred_stop is not None:
                deferred, self._deferred_stop = self._deferred_stop, None
                await super().trigger_user_turn_stopped(**deferred)  # type: ignore[misc]
        return result

    async def trigger_user_turn_stopped(self, **kwargs: Any) -> None:
        if self._pending_segments > 0:
            self._deferred_stop = kwargs
            return
        await super().trigger_user_turn_stopped(**kwargs)  # type: ignore[misc]


# How often a held end of turn looks again whether the caller's sound has passed.
HOLD_CHECK_SECS = 0.02


class SilenceTurnStop(_AfterAllSegments, SpeechTimeoutUserTurnStopStrategy):
    """A turn ends after a stretch of silence, once everything said is transcribed.

    With ``complete``, a pause whose words read as a whole request (see
    :mod:`voice.turn_complete`) ends the turn once ``complete_wait`` seconds have passed since
    the end of speech, instead of the full wait. While a yes/no answer is awaited only
    ``new_request`` words do (a task instead of an answer): a "yes" followed by "but..." must
    not be taken early.

    The short wait is held while ``sounding`` says the caller has made a sound since the VAD
    reported the stop and it goes on: someone going on after a comma is heard in the first
    frame of their next word, long before the VAD confirms it as speech (which is what
    cancels a pending end of turn), so the short wait need not outlast that confirmation. A
    sound that keeps on without being speech (a noisy line) holds it no longer than the full
    wait would have lasted.
    """

    def __init__(
        self,
        *,
        complete: Callable[[str], bool] | None = None,
        new_request: Callable[[str], bool] | None = None,
        complete_wait: float = 0.0,
        sounding: Callable[[float], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._complete = complete
        self._new_request = new_request
        self._complete_wait = complete_wait
        self._sounding = sounding
        self._answer_awaited = False
        self._vad_stopped_at = 0.0
        self._speech_ended = 0.0

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, AnswerAwaitedFrame):
            self._answer_awaited = frame.awaited
        elif isinstance(frame, TurnTranscriptFrame):
            # The turn read again as one clip is what decides whether it is whole.
            self._text = frame.text
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            # The VAD reports the stop after ``stop_secs`` of silence.
            self._vad_stopped_at = time.monotonic()
            self._speech_ended = self._vad_stopped_at - frame.stop_secs
        result = await super().process_frame(frame)
        if isinstance(frame, SegmentTranscribedFrame) and self._reads_whole():
            # The full wait's timer is replaced by the rest of the short one; speech that
            # resumes cancels it like any other pending end of turn.
            await self._cancel_all_tasks()
            self._stt_wait_done = True
            remaining = self._complete_wait - (time.monotonic() - self._speech_ended)
            self._user_speech_timeout_task = self.task_manager.create_task(
                self._complete_turn_wait(max(0.0, remaining)), f"{self}::complete_turn_wait"
            )
        return result

    async def _complete_turn_wait(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            longest = self._vad_stopped_at + self._user_speech_timeout
            while (
                self._sounding is not None
                and self._sounding(self._vad_stopped_at)
                and time.monotonic() < longest
            ):
                await asyncio.sleep(HOLD_CHECK_SECS)
        except asyncio.CancelledError:
            return
        finally:
            self._user_speech_timeout_task = None
        self._user_speech_wait_done = True
        await self._maybe_trigger_user_turn_stopped()

    def _reads_whole(self) -> bool:
        # pipecat's own state: the VAD has stopped, nobody speaks, some words were heard.
        ready = (
            self._complete is not None
            and self._pending_segments == 0
            and self._vad_stopped
            and not self._vad_user_speaking
            and not self._user_speech_wait_done
            and bool(self._text.strip())
        )
        if not ready or self._complete is None:
            return False
        if self._answer_awaited:
            return self._new_request is not None and self._new_request(self._text)
        return self._complete(self._text)


class SmartTurnStop(_AfterAllSegments, TurnAnalyzerUserTurnStopStrategy):
    """Smart Turn v3 decides the end of a turn, once everything said is transcribed."""
