"""When each stage of a caller's turn happened, reported as the voice-to-voice latency metric
and as spans of the run the turn drove.

A turn's spans join the run's trace (see :mod:`core.tracing`), so one trace shows the call's
turn beside the run's steps: ``voice.turn`` from the end of the caller's speech to the first
audio of the answer, and under it one span per stage in order (``voice.vad_end``,
``voice.turn_end``, ``voice.hand_over``, ``voice.run``, ``voice.reply``, ``voice.tts``),
which add up to it.

The end of speech is when the VAD heard the last speech, ``stop_secs`` before it reported
the stop: the caller has been waiting since then.

A barge-in (the caller talking over the bot) is a ``voice.barge_in`` span of the run whose
answer was cut short, from the onset of the caller's speech to the bot being stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.util.types import AttributeValue

from core.metrics.voice import barge_in, turn_latency
from core.tracing import past_span, past_span_scope

# Each stage is named for the moment that ends it (TurnTiming's field names).
STAGES = (
    ("vad_stopped", "voice.vad_end"),
    ("turn_ended", "voice.turn_end"),
    ("submitted", "voice.hand_over"),
    ("settled", "voice.run"),
    ("first_text", "voice.reply"),
    ("first_audio", "voice.tts"),
)


@dataclass
class TurnTiming:
    """Monotonic timestamps of one user turn (metrics, traces and the latency benchmark)."""

    speech_ended: float | None = None
    """When the caller's speech ended (the VAD confirms it ``stop_secs`` later)."""
    vad_stopped: float | None = None
    transcribed: float | None = None
    turn_ended: float | None = None
    submitted: float | None = None
    settled: float | None = None
    first_text: float | None = None
    first_audio: float | None = None
    text: str = ""
    keypad: str = ""
    """The key pressed, when the turn is a keypad answer rather than speech."""
    run_id: str | None = None
    """The run the turn was answered for (its trace gets the turn's spans)."""

    def as_dict(self) -> dict[str, Any]:
        """The timings in milliseconds from the end of the caller's speech (from the VAD's
        stop, or the turn's end, when that is unknown)."""
        base = self.speech_ended or self.vad_stopped or self.turn_ended or 0.0
        out: dict[str, Any] = {"text": self.text}
        for name in (
            "vad_stopped",
            "transcribed",
            "turn_ended",
            "submitted",
            "settled",
            "first_text",
        ):
            value = getattr(self, name)
            out[f"{name}_ms"] = None if value is None else round((value - base) * 1000, 1)
        out["first_audio_ms"] = (
            None if self.first_audio is None else round((self.first_audio - base) * 1000, 1)
        )
        return out


@dataclass
class CallMetrics:
    """Per-call timings shared by the bridge and the audio tap after TTS."""

    call_id: str = ""
    channel: str = ""
    connected: float = field(default_factory=time.monotonic)
    first_greeting_audio: float | None = None
    turns: list[TurnTiming] = field(default_factory=list)
    barge_ins: list[float] = field(default_factory=list)
    """Seconds from each barge-in's onset to the bot's speech being stopped."""
    _awaiting_audio: TurnTiming | None = None
    _awaiting_greeting: bool = True

    def reply_started(self, turn: TurnTiming) -> None:
        """The answer to ``turn`` went to TTS; its first audio frame ends the turn's timing."""
        self.turns.append(turn)
        self._awaiting_audio = turn

    def barged_in(self, onset: float, stopped: float, run_id: str | None) -> None:
        """The caller talked over the bot from ``onset``; its speech was stopped at
        ``stopped``. Reported as a metric and as a ``voice.barge_in`` span of ``run_id``'s
        trace (the run whose answer was cut short)."""
        self.barge_ins.append(stopped - onset)
        barge_in(stopped - onset)
        if run_id is None:
            return
        offset_ns = time.time_ns() - time.monotonic_ns()
        attrs: dict[str, AttributeValue] = {
            "baton.call_id": self.call_id,
            "baton.voice.channel": self.channel,
            "baton.voice.barge_in_ms": round((stopped - onset) * 1000, 1),
        }
        past_span(
            "voice.barge_in",
            run_id,
            int(onset * 1e9) + offset_ns,
            int(stopped * 1e9) + offset_ns,
            attrs,
        )

    def audio_out(self) -> None:
        """Called by the tap for every TTS audio frame."""
        now = time.monotonic()
        if self._awaiting_greeting:
            self.first_greeting_audio = now
            self._awaiting_greeting = False
        turn = self._awaiting_audio
        if turn is not None and turn.first_audio is None:
            turn.first_audio = now
            spoke = turn.speech_ended or turn.turn_ended
            if spoke is not None:
                turn_latency(now - spoke)
                trace_turn(turn, spoke, self.call_id, self.channel, len(self.turns))
            self._awaiting_audio = None


def trace_turn(turn: TurnTiming, spoke: float, call_id: str, channel: str, index: int) -> None:
    """Record ``turn`` (answered, speech ended at ``spoke``) as spans of its run's trace."""
    if turn.run_id is None or turn.first_audio is None:
        return
    # Monotonic marks become wall-clock nanoseconds through one shared offset.
    offset_ns = time.time_ns() - time.monotonic_ns()

    def wall(mark: float) -> int:
        return int(mark * 1e9) + offset_ns

    attrs: dict[str, AttributeValue] = {
        "baton.call_id": call_id,
        "baton.voice.channel": channel,
        "baton.voice.turn": index,
        "baton.voice.latency_ms": round((turn.first_audio - spoke) * 1000, 1),
    }
    heard_from = turn.vad_stopped or spoke
    # Only the decoding left once the VAD has closed the segment keeps the caller waiting
    # (it starts earlier, at the pause: voice.segment_ahead).
    stt_ms = None if turn.transcribed is None else (turn.transcribed - heard_from) * 1000
    if stt_ms is not None and stt_ms >= 0:
        attrs["baton.voice.stt_ms"] = round(stt_ms, 1)
    with past_span_scope("voice.turn", turn.run_id, wall(spoke), wall(turn.first_audio), attrs):
        begun = spoke
        for mark_name, span_name in STAGES:
            mark = getattr(turn, mark_name)
            # A stage that did not happen (a fixed prompt runs no step, a keypad turn has no
            # VAD) or whose mark is out of order joins the next one.
            if mark is None or mark <= begun:
                continue
            with past_span_scope(span_name, turn.run_id, wall(begun), wall(mark)):
                if mark_name == "turn_ended" and turn.transcribed is not None:
                    # The transcript arrives during the end-of-turn wait (clamped to it).
                    stt_from = max(heard_from, begun)
                    heard = min(max(turn.transcribed, stt_from), mark)
                    past_span("voice.stt", turn.run_id, wall(stt_from), wall(heard))
            begun = mark
