"""When the caller's voice last sounded, read from the audio as it arrives.

The VAD reports the end of speech ``stop_secs`` after it stopped hearing it, and it stops
hearing it some frames after the voice fell silent (Silero's window and smoothing): taking
"VAD stop minus ``stop_secs``" as the end of speech left about 0.1 s of each turn out of its
trace. The last frame loud enough to be voice, relative to how loud the caller has been,
marks the end more closely; the VAD's estimate bounds it, so line noise cannot stretch a turn.

The same pass tells whether the caller is making a sound right now, well before the VAD
would confirm it as speech: a frame that stands out from the line's noise floor. A caller
going on after a pause is heard in the first frame of their next word this way; Silero takes
a window or several to rise on a soft onset ("in the small room").
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

# Voice is a frame within 30 dB of the caller's recent loudest (a trailing "s" is quiet).
VOICED_RATIO = 0.03
# Quieter than this is silence whatever came before (int16 RMS, about -60 dBFS).
SILENCE_RMS = 30.0
# The loudest level fades by half every this many seconds, so a shout long ago does not
# make normal speech count as silence.
PEAK_HALF_LIFE_SECS = 2.0
# The end of speech is never put earlier than this before the VAD's own estimate.
MAX_CORRECTION_SECS = 0.3
# A sound stands out when it is this many times the quietest level of the last stretch of
# audio (12 dB): steady line noise does not, the start of a word does.
OVER_FLOOR = 4.0
FLOOR_WINDOW_SECS = 1.5
# A sound goes on until this much quiet follows it: longer than the hush inside a word
# ("at noon" is quiet for over 0.1 s between its words), about as long as the VAD takes to
# confirm speech.
SOUND_GAP_SECS = 0.25


class VoiceClock(FrameProcessor):
    """Notes when the caller's audio last carried voice; placed right after the input."""

    def __init__(self) -> None:
        super().__init__(name="voice-clock")
        self._peak = 0.0
        self._peak_at = 0.0
        self.last_voiced: float | None = None
        """When the latest voiced frame arrived (monotonic seconds)."""
        self.last_sound: float | None = None
        """When the latest frame standing out from the noise floor arrived."""
        self._levels: deque[tuple[float, float]] = deque()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Pass every frame on; time the caller's voiced audio."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and frame.audio:
            self.heard(frame.audio, time.monotonic())
        await self.push_frame(frame, direction)

    def heard(self, audio: bytes, at: float) -> None:
        """Take in one frame of 16-bit audio that arrived at ``at``."""
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32)
        rms = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
        faded = self._peak * 0.5 ** ((at - self._peak_at) / PEAK_HALF_LIFE_SECS)
        if rms >= faded:
            self._peak, self._peak_at = rms, at
        if rms >= SILENCE_RMS and rms >= VOICED_RATIO * max(faded, rms):
            self.last_voiced = at
        levels = self._levels
        levels.append((at, rms))
        while levels[0][0] < at - FLOOR_WINDOW_SECS:
            levels.popleft()
        floor = min(level for _, level in levels)
        if rms >= SILENCE_RMS and rms >= OVER_FLOOR * floor:
            self.last_sound = at

    def sounding(self, since: float, now: float | None = None) -> bool:
        """Whether the caller has made a sound standing out from the line's noise after
        ``since`` (monotonic seconds) that is still going on."""
        heard = self.last_sound
        if heard is None or heard <= since:
            return False
        return (time.monotonic() if now is None else now) - heard <= SOUND_GAP_SECS

    def speech_ended(self, vad_estimate: float) -> float:
        """The end of the speech the VAD just called ended, given its own estimate."""
        voiced = self.last_voiced
        if voiced is None or not vad_estimate - MAX_CORRECTION_SECS <= voiced <= vad_estimate:
            return vad_estimate
        return voiced
