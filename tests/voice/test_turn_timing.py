"""A voice turn's spans in its call's trace: stages in order that add up to the turn, linked
to the run the turn drove.

Timings are given, not measured, so the span tree can be checked exactly: a stage that did
not happen (a fixed prompt runs no step) joins the next one, and a mark out of order never
makes a span run backwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from core.config import Settings
from core.errors import NotFound
from core.runs.service import RunStore
from core.tracing import configure_tracing, shutdown_tracing
from core.tracing.recorder import CallOwner
from core.tracing.service import call_trace, run_trace
from core.tracing.tree import SpanNode
from voice.turn_timing import CallMetrics, TurnTiming, trace_turn

CALL = CallOwner("call_x", "acme", "ivy")


@pytest.fixture
def store(engine: Engine) -> Iterator[RunStore]:
    settings = Settings(plugins="none", agent="scripted", otel_endpoint=None)
    configure_tracing(settings, engine)
    try:
        yield RunStore(engine, settings)
    finally:
        shutdown_tracing()


def _turn_span(engine: Engine) -> SpanNode:
    (turn,) = [
        s for s in call_trace(engine, "acme", "ivy", "call_x").spans if s.name == "voice.turn"
    ]
    return turn


def _answer(turn: TurnTiming, channel: str = "phone") -> None:
    turn.first_audio = (turn.first_text or 0.0) + 0.05
    trace_turn(turn, turn.speech_ended or turn.vad_stopped or 0.0, CALL, channel, index=1)


def test_a_turn_answered_by_a_run_has_every_stage_in_order(engine, store):
    run_id = store.create_run("acme", "ivy", "what is on today")["run_id"]
    turn = TurnTiming(
        speech_ended=99.8, vad_stopped=100.0, transcribed=100.1, turn_ended=100.3, submitted=100.31,
        settled=100.5, first_text=100.52, run_id=run_id,
    )  # fmt: skip
    _answer(turn)

    span = _turn_span(engine)
    assert [c.name for c in span.children] == [
        "voice.vad_end", "voice.turn_end", "voice.hand_over", "voice.run", "voice.reply",
        "voice.tts",
    ]  # fmt: skip
    assert [round(c.duration_ms) for c in span.children] == [200, 300, 10, 190, 20, 50]
    assert round(span.duration_ms) == 770 == round(span.attributes["baton.voice.latency_ms"])
    assert span.attributes["baton.call_id"] == "call_x"
    assert span.attributes["baton.run_id"] == run_id
    assert span.attributes["baton.voice.stt_ms"] == pytest.approx(100.0, abs=0.1)
    (stt,) = span.children[1].children
    assert (stt.name, round(stt.duration_ms)) == ("voice.stt", 100)


def test_a_fixed_prompt_has_no_run_stage_and_a_late_mark_never_runs_backwards(engine, store):
    run_id = store.create_run("acme", "ivy", "email alice")["run_id"]
    # A re-asked question: no step ran; the transcript came after the turn had ended.
    turn = TurnTiming(
        vad_stopped=10.0, transcribed=10.4, turn_ended=10.3, first_text=10.9, run_id=run_id
    )
    _answer(turn)

    span = _turn_span(engine)
    assert [c.name for c in span.children] == ["voice.turn_end", "voice.reply", "voice.tts"]
    assert sum(c.duration_ms for c in span.children) == pytest.approx(span.duration_ms, abs=0.01)
    (stt,) = span.children[0].children
    assert stt.end_ns <= span.children[0].end_ns


def test_a_turn_without_a_run_is_traced_in_the_call_only(engine, store):
    run_id = store.create_run("acme", "ivy", "anything")["run_id"]
    _answer(TurnTiming(vad_stopped=1.0, turn_ended=1.2, first_text=1.3))
    span = _turn_span(engine)
    assert "baton.run_id" not in span.attributes
    assert [c.name for c in span.children] == ["voice.turn_end", "voice.reply", "voice.tts"]
    assert run_trace(engine, "acme", "ivy", run_id).spans == []


def test_a_calls_spans_hang_from_its_root_and_are_its_owners_only(engine, store):
    connected = time.monotonic() - 5.0
    metrics = CallMetrics(
        call_id="call_x", channel="phone", tenant_id="acme", user_id="ivy", connected=connected
    )
    metrics.audio_out()  # the greeting's first audio
    turn = TurnTiming(vad_stopped=connected + 1.0, turn_ended=connected + 1.3)
    metrics.reply_started(turn)
    metrics.audio_out()
    metrics.barged_in(time.monotonic() + 0.5, time.monotonic() + 0.6, None)
    metrics.hung_up()

    (call,) = call_trace(engine, "acme", "ivy", "call_x").spans
    assert call.name == "voice.call"
    assert [c.name for c in call.children] == ["voice.greeting", "voice.turn", "voice.barge_in"]
    assert call.attributes["baton.voice.turns"] == 1
    assert call.attributes["baton.voice.barge_ins"] == 1
    assert all(call.start_ns <= c.start_ns for c in call.children)
    for other in (("acme", "mallory"), ("globex", "ivy")):
        with pytest.raises(NotFound):
            call_trace(engine, *other, "call_x")
