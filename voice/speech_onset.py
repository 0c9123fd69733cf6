"""The caller's first sound, announced before the VAD confirms it as speech.

The VAD reports the start of speech only after ``start_secs`` of voice (0.15 s), so that a
click or a breath does not start a turn, and counts a window as voice only once a loudness
smoothed over the last 0.4 s has risen too, which trails a sudden voice by a few windows.
Holding the bot's audio while the caller talks over it (:mod:`voice.speech_hold`) is cheap
to undo, so it need not wait for either: the first window in which Silero hears voice is
enough to fall quiet, and a sound the VAD then drops lets the bot go on after a pause of a
window or two.
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
    starts hearing voice and when that voice ends without the VAD confirming it as speech."""

    def __init__(self, vad_analyzer: SharedSileroVADAnalyzer) -> None:
        super().__init__(vad_analyzer=vad_analyzer)
        self._analyzer = vad_analyzer
        self._sounding = False
        self._confirmed = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Analyse audio as pipecat does, then announce a new or dropped sound."""
        await super().process_frame(frame, direction)
        if not isinstance(frame, InputAudioRawFrame):
            return
        state = self._analyzer.state
        sounding = state != VADState.QUIET or self._analyzer.voiced
        if sounding and not self._sounding:
            self._confirmed = False
            await self.push_frame(CallerSoundFrame(started=True))
        elif not sounding and self._sounding and not self._confirmed:
            await self.push_frame(CallerSoundFrame(started=False))
        self._sounding = sounding
        self._confirmed = self._confirmed or state in (VADState.SPEAKING, VADState.STOPPING)
