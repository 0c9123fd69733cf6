"""When each stage of a call happened, reported as the voice-to-voice latency metric and as
spans of the call's trace.

Each call has one trace (see :mod:`core.tracing.calls`): ``voice.call`` from the connection
to the hang-up, and under it ``voice.greeting`` (the connection to the greeting's first
audio), one ``voice.turn`` per answered turn and one ``voice.barge_in`` per interruption.
A turn runs from the end of the caller's speech to the first audio of the answer, with one
span per stage in order (``voice.vad_end``, ``voice.turn_end``, ``voice.hand_over``,
``voice.run``, ``voice.reply``, ``voice.tts``), which add up to it. A turn that drove a run
links to the run's trace and names the run (``baton.run_id``); the run's trace holds its
steps.

The end of speech is when the VAD heard the last speech, ``stop_secs`` before it reported
the stop: the caller has been waiting since then.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.util.types import AttributeValue

from core.metrics.voice import barge_in, turn_latency
from core.tracing import root_span_context
from core.tracing.attributes import RUN_ID
from core.tracing.calls import past_call_span, past_call_span_scope, record_call
from core.tracing.recorder import CallOwner

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
    """When the caller's voice fell silent (:mod:`voice.speech_end`); the VAD confirms it
    about ``stop_secs`` later."""
    vad_stopped: float | None = None
    transcribed: float | None = None
    turn_ended: float | None = None
    submitted: float | None = None
    settled: float | None = None
    first_text: float | None = None
    first_audio: float | None = None
    text: str = ""
    heard_logprob: float | None = None
    """How sure Whisper was of the turn's words (its least sure segment's mean token
    log-probability; 0 is certain)."""
    yes_disputed: bool = False
    """Whether a yes heard in the turn was not heard again without the call's biasing."""
    keypad: str = ""
    """The key pressed, when the turn is a keypad answer rather than speech."""
    run_id: str | None = None
    """The run the turn was answered for (the turn links to its trace)."""

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


def _wall_offset_ns() -> int:
    """What turns a monotonic mark into wall-clock nanoseconds (spans carry wall time)."""
    return time.time_ns() - time.monotonic_ns()


def _wall(mark: float, offset_ns: int) -> int:
    return round(mark * 1e9) + offset_ns


@dataclass
class CallMetrics:
    """Per-call timings shared by the bridge and the audio tap after TTS, and the call's
    trace."""

    call_id: str = ""
    channel: str = ""
    tenant_id: str = ""
    user_id: str = ""
    connected: float = field(default_factory=time.monotonic)
    first_greeting_audio: float | None = None
    turns: list[TurnTiming] = field(default_factory=list)
    barge_ins: list[float] = field(default_factory=list)
    """Seconds from each barge-in's onset to the bot's speech being stopped."""
    audio_held_at: float | None = None
    """When the bot's audio was last held because the caller spoke over it."""
    _awaiting_audio: TurnTiming | None = None
    _awaiting_greeting: bool = True
    # One offset for the whole call, so its spans line up with each other to the nanosecond.
    _offset_ns: int = field(default_factory=lambda: _wall_offset_ns())

    @property
    def owner(self) -> CallOwner:
        """The call and whose it is, as its spans carry them."""
        return CallOwner(self.call_id, self.tenant_id, self.user_id)

    def reply_started(self, turn: TurnTiming) -> None:
        """The answer to ``turn`` went to TTS; its first audio frame ends the turn's timing."""
        self.turns.append(turn)
        self._awaiting_audio = turn

    def barged_in(self, onset: float, stopped: float, run_id: str | None) -> None:
        """The caller talked over the bot from ``onset``; its speech was stopped at
        ``stopped``. Reported as a metric and as a ``voice.barge_in`` span of the call,
        linked to ``run_id``'s trace (the run whose answer was cut short)."""
        self.barge_ins.append(stopped - onset)
        barge_in(stopped - onset)
        offset_ns = self._offset_ns
        attrs: dict[str, AttributeValue] = {
            "baton.voice.channel": self.channel,
            "baton.voice.barge_in_ms": round((stopped - onset) * 1000, 1),
        }
        if run_id is not None:
            attrs[RUN_ID] = run_id
        past_call_span(
            "voice.barge_in",
            self.owner,
            _wall(onset, offset_ns),
            _wall(stopped, offset_ns),
            attrs,
            [root_span_context(run_id)] if run_id is not None else [],
        )

    def audio_out(self) -> None:
        """Called by the tap for every TTS audio frame."""
        now = time.monotonic()
        if self._awaiting_greeting:
            self.first_greeting_audio = now
            self._awaiting_greeting = False
            offset_ns = self._offset_ns
            past_call_span(
                "voice.greeting",
                self.owner,
                _wall(self.connected, offset_ns),
                _wall(now, offset_ns),
                {"baton.voice.channel": self.channel},
            )
        turn = self._awaiting_audio
        if turn is not None and turn.first_audio is None:
            turn.first_audio = now
            spoke = turn.speech_ended or turn.turn_ended
            if spoke is not None:
                turn_latency(now - spoke)
                trace_turn(turn, spoke, self.owner, self.channel, len(self.turns), self._offset_ns)
            self._awaiting_audio = None

    def hung_up(self) -> None:
        """The call ended: record its root span, from the connection to now."""
        offset_ns = self._offset_ns
        record_call(
            "voice.call",
            self.owner,
            _wall(self.connected, offset_ns),
            _wall(time.monotonic(), offset_ns),
            {
                "baton.voice.channel": self.channel,
                "baton.voice.turns": len(self.turns),
                "baton.voice.barge_ins": len(self.barge_ins),
            },
        )


def trace_turn(
    turn: TurnTiming,
    spoke: float,
    call: CallOwner,
    channel: str,
    index: int,
    offset_ns: int | None = None,
) -> None:
    """Record ``turn`` (answered, speech ended at ``spoke``) as spans of ``call``'s trace,
    linked to the trace of the run it drove; ``offset_ns`` turns monotonic marks into wall
    time (the call's own, so its spans line up)."""
    if turn.first_audio is None:
        return
    if offset_ns is None:
        offset_ns = _wall_offset_ns()

    def wall(mark: float) -> int:
        return _wall(mark, offset_ns)

    attrs: dict[str, AttributeValue] = {
        "baton.voice.channel": channel,
        "baton.voice.turn": index,
        "baton.voice.latency_ms": round((turn.first_audio - spoke) * 1000, 1),
    }
    links = []
    if turn.run_id is not None:
        attrs[RUN_ID] = turn.run_id
        links.append(root_span_context(turn.run_id))
    heard_from = turn.vad_stopped or spoke
    # Only the decoding left once the VAD has closed the segment keeps the caller waiting
    # (it starts earlier, at the pause: voice.segment_ahead).
    stt_ms = None if turn.transcribed is None else (turn.transcribed - heard_from) * 1000
    if stt_ms is not None and stt_ms >= 0:
        attrs["baton.voice.stt_ms"] = round(stt_ms, 1)
    with past_call_span_scope(
        "voice.turn", call, wall(spoke), wall(turn.first_audio), attrs, links
    ):
        begun = spoke
        for mark_name, span_name in STAGES:
            mark = getattr(turn, mark_name)
            # A stage that did not happen (a fixed prompt runs no step, a keypad turn has no
            # VAD) or whose mark is out of order joins the next one.
            if mark is None or mark <= begun:
                continue
            with past_call_span_scope(span_name, call, wall(begun), wall(mark)):
                if mark_name == "turn_ended" and turn.transcribed is not None:
                    # The transcript arrives during the end-of-turn wait (clamped to it).
                    stt_from = max(heard_from, begun)
                    heard = min(max(turn.transcribed, stt_from), mark)
                    past_call_span("voice.stt", call, wall(stt_from), wall(heard))
            begun = mark
