"""Frames of Baton's own that travel through a call's pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class SegmentTranscribedFrame(DataFrame):
    """The STT finished one speech segment (with or without a transcript)."""


@dataclass
class AnswerAwaitedFrame(SystemFrame):
    """Upstream from the bridge: whether the bot's last question awaits a yes/no answer."""

    awaited: bool
