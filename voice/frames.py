"""Frames of Baton's own that travel through a call's pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipecat.frames.frames import DataFrame, SystemFrame


# An interruption drops queued frames, and the caller's words can start one themselves (an
# answer over the bot): the mark queued behind them was lost, and the turn-end strategy, which
# waits for every segment's mark, kept the turn open until pipecat's stop timeout.
@dataclass
class SegmentTranscribedFrame(DataFrame):
    """The STT finished one speech segment (with or without a transcript)."""

    interruptible: bool = field(default=False, init=False)


@dataclass
class AnswerAwaitedFrame(SystemFrame):
    """Upstream from the bridge: whether the bot's last question awaits a yes/no answer."""

    awaited: bool


@dataclass
class TurnTranscriptFrame(DataFrame):
    """The STT's reading of the caller's turn so far, decoded as one clip.

    It replaces the last ``replaces`` transcripts of the turn (see
    :mod:`voice.turn_transcript`).
    """

    text: str
    replaces: int
    interruptible: bool = field(default=False, init=False)


@dataclass(frozen=True)
class HeardConfidence:
    """A ``TranscriptionFrame``'s ``result``: how sure Whisper was of the words (the mean
    token log-probability of their least sure segment; 0 is certain), and whether a yes it
    heard while an answer was awaited was not heard again without the call's biasing."""

    avg_logprob: float
    yes_disputed: bool = False


@dataclass
class CallerSoundFrame(SystemFrame):
    """Downstream from the VAD: it heard voice (``started``) before confirming speech, or fell
    back to quiet without confirming it (a click, a breath)."""

    started: bool
