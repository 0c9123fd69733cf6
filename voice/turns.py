"""End of turn that waits for every speech segment's transcript.

Whisper transcribes each VAD segment after it ends, one at a time. On a busy machine the
transcript of an earlier segment ("No,") can arrive after the caller has already said the
next one ("don't send it"), and pipecat's stop strategies take that finalized transcript as
"nothing more is coming": the turn ended with half an answer. Here the STT marks the end of
every segment (even one with no words) and the stop strategies hold the end of the turn until
no segment is left untranscribed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import (
    DataFrame,
    Frame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import (
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)


@dataclass
class SegmentTranscribedFrame(DataFrame):
    """The STT finished one speech segment (with or without a transcript)."""


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


class SilenceTurnStop(_AfterAllSegments, SpeechTimeoutUserTurnStopStrategy):
    """A turn ends after a stretch of silence, once everything said is transcribed."""


class SmartTurnStop(_AfterAllSegments, TurnAnalyzerUserTurnStopStrategy):
    """Smart Turn v3 decides the end of a turn, once everything said is transcribed."""
