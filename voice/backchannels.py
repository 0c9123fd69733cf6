"""Backchannels are not turns: "uh-huh" while the bot talks neither stops it nor reaches the run.

While the bot is silent, a turn starts the moment the VAD hears speech (as before). Speech that
begins while the bot is speaking starts a turn only once it has lasted longer than a
backchannel does (``barge_in_secs`` of audio). Its words mostly cannot decide: Whisper
tiny.en turns a murmur on phone audio into "Thank you.", "M-H-M.", "Oh." or "And make a
chance." (all seen here), so a filter on transcripts either lets hallucinations interrupt or
drops real words. The exception is a short request to stop ("Stop.", "That's enough."),
too short to count by its length and never heard from a murmur: once transcribed, it starts
the turn. "Stop, that's enough" starts it by its length, its short pause counted with it. The
bot still falls quiet at the caller's first sound (:mod:`voice.speech_hold`) and goes on only
when the speech proves to be a murmur. The bridge keeps words that no turn claimed out of the
caller's next turn.

While the bot awaits a yes/no answer, a short "Yes." said over the end of its question is the
answer, not a backchannel: then any words transcribed start the turn, and the answer reader
sends a murmur back as "unclear" (asked again) rather than dropping a real "yes". Only words
that are all courtesy ("Please.", "Thanks."), the tail of the request being confirmed, leave
the question to go on.
"""

from __future__ import annotations

from collections import deque

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start.base_user_turn_start_strategy import BaseUserTurnStartStrategy

from voice.answers import asks_to_stop, only_courtesy
from voice.frames import AnswerAwaitedFrame, SegmentTranscribedFrame

# Speech that goes on this long over the bot (from its onset) is a barge-in. Synthesised
# "uh-huh" and "mhm" measured 0.6-0.7 s here once the VAD's smoothing is counted.
BARGE_IN_SECS = 0.8
# Speech over the bot that resumes within this long after the VAD called it ended is the same
# interruption ("Stop, ... that's enough"), its pause counted with it; a listener's murmurs
# come seconds apart. The VAD's own stop wait comes on top of it.
JOIN_SECS = 0.4


class BargeInStart(BaseUserTurnStartStrategy):
    """Start a user turn at once when the bot is silent; over the bot, only for a real barge-in.

    Replaces pipecat's VAD and transcription start strategies (it does both jobs).
    """

    def __init__(self, *, vad_stop_secs: float, barge_in_secs: float = BARGE_IN_SECS) -> None:
        super().__init__()
        # Until the VAD reports the end of speech, the audio counted may end in up to
        # ``vad_stop_secs`` of silence: a murmur must not be called long because of it.
        self._barge_in_secs = barge_in_secs + vad_stop_secs
        self._bot_speaking = False
        self._pending = False
        # Whether each segment awaiting its transcript began over the bot's speech: a
        # transcript can arrive after the bot has finished, and still be a backchannel.
        self._over_bot: deque[bool] = deque()
        self._segment_over_bot = False
        # Speech is measured in audio received, not wall-clock time: on a busy machine audio
        # arrives in bursts, and a clock would call a short murmur long.
        self._speech_secs = 0.0
        # Audio since speech over the bot last ended, while it may still be joined.
        self._gap_secs: float | None = None
        self._answer_awaited = False

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Decide whether this frame starts the caller's turn."""
        if isinstance(frame, AnswerAwaitedFrame):
            self._answer_awaited = frame.awaited
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            # Also between two sentences of one reply: speech already under way keeps being
            # measured (or transcribed) rather than counting as a turn at once.
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._segment_over_bot = self._bot_speaking
            if not self._bot_speaking:
                return await self._start()
            self._pending = True
            if self._gap_secs is not None and self._gap_secs - frame.start_secs <= JOIN_SECS:
                # The same interruption going on: its pause counts as if the VAD had waited.
                self._speech_secs += self._gap_secs
            else:
                # The VAD reports speech after ``start_secs`` of it: count from there.
                self._speech_secs = frame.start_secs
            self._gap_secs = None
            if self._speech_secs >= self._barge_in_secs:
                return await self._start()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            if self._pending:
                self._gap_secs = 0.0
            self._pending = False
            self._over_bot.append(self._segment_over_bot)
        elif isinstance(frame, SegmentTranscribedFrame) and self._over_bot:
            self._over_bot.popleft()
        elif isinstance(frame, InputAudioRawFrame) and self._pending:
            self._speech_secs += _seconds(frame)
            if self._speech_secs >= self._barge_in_secs:
                return await self._start()
        elif isinstance(frame, InputAudioRawFrame) and self._gap_secs is not None:
            self._gap_secs += _seconds(frame)
        elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
            over_bot = self._heard_over_bot()
            # Words without a VAD start of their own (the VAD missed quiet speech), a short
            # answer said over the end of the question, or "Stop." A "please" or "thanks"
            # over the question is the tail of the request it answers, not an answer.
            if (
                not over_bot
                or (self._answer_awaited and not only_courtesy(frame.text))
                or asks_to_stop(frame.text)
            ):
                return await self._start()
        return ProcessFrameResult.CONTINUE

    def _heard_over_bot(self) -> bool:
        return self._over_bot[0] if self._over_bot else self._bot_speaking

    async def handle_user_turn_started(self) -> None:
        """A turn started (by this or another strategy): no barge-in is pending any more."""
        self._pending = False
        self._gap_secs = None

    async def _start(self) -> ProcessFrameResult:
        self._pending = False
        self._gap_secs = None
        await self.trigger_user_turn_started()
        return ProcessFrameResult.STOP


def _seconds(frame: InputAudioRawFrame) -> float:
    return len(frame.audio) / (2 * frame.sample_rate * frame.num_channels)
