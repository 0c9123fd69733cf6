"""The caller's first sound, announced before the VAD confirms it as speech.

The VAD reports the start of speech only after ``start_secs`` of voice (0.15 s), so that a
click or a breath does not start a turn. Holding the bot's audio while the caller talks over
it (:mod:`voice.speech_hold`) is cheap to undo, so it need not wait that long: the first
window in which the VAD hears voice is enough to fall quiet, and a sound the VAD then drops
lets the bot go on after a pause of a window or two.
"""

from __future__ import annotations

from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection

from voice.frames import CallerSoundFrame
from voice.services import SharedSileroVADAnalyzer


class OnsetVADProcessor(VADProcessor):
    """pipecat's VAD processor, also pushing a :class:`CallerSoundFrame` when its analyzer
    starts hearing voice and when it drops that voice unconfirmed."""

    def __init__(self, vad_analyzer: SharedSileroVADAnalyzer) -> None:
        super().__init__(vad_analyzer=vad_analyzer)
        self._analyzer = vad_analyzer
        self._state = VADState.QUIET

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Analyse audio as pipecat does, then announce a new or dropped sound."""
        await super().process_frame(frame, direction)
        if not isinstance(frame, InputAudioRawFrame):
            return
        before, self._state = self._state, self._analyzer.state
        if before == VADState.QUIET and self._state == VADState.STARTING:
            await self.push_frame(CallerSoundFrame(started=True))
        elif before == VADState.STARTING and self._state == VADState.QUIET:
            await self.push_frame(CallerSoundFrame(started=False))
