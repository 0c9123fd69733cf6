"""A phone call leaves one trace of its own, linked to the run it drove (real speech and
models).

The call's trace is read over the API by its owner. The turn's span runs from the end of the
caller's speech to the first audio of the answer; its stages follow one another and add up to
the latency the server reports for the turn (``baton_voice_turn_latency_seconds``). The turn
names and links the run, whose own trace holds the step that answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY

from core.tracing import configure_tracing, shutdown_tracing
from core.tracing.service import run_trace
from core.tracing.tree import CallTrace, SpanNode
from tests.core.api_harness import auth
from tests.voice.server import CAPITAL_ANSWER, serve_voice, sounds_like
from tests.voice.twilio_client import TWILIO_RATE, TwilioCall
from voice.identity import link_number

pytestmark = pytest.mark.slow
CALLER = "+15551230011"
LATENCY_SUM = "baton_voice_turn_latency_seconds_sum"
STAGES = [
    "voice.vad_end",
    "voice.turn_end",
    "voice.hand_over",
    "voice.run",
    "voice.reply",
    "voice.tts",
]


def _walk(nodes: list[SpanNode]) -> Iterator[SpanNode]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


async def test_a_phone_call_is_one_trace_whose_turn_adds_up_to_its_latency_and_links_its_run(
    voice_models, engine, tmp_path, outbox, speech, transcribe
):
    link_number(engine, "acme", "gus", CALLER)
    reported_before = REGISTRY.get_sample_value(LATENCY_SUM) or 0.0
    async with serve_voice(voice_models, engine, tmp_path, outbox) as srv:
        configure_tracing(srv.settings, engine)
        try:
            call = TwilioCall(srv.url, caller=CALLER)
            await call.connect()
            await call.wait_for_audio(call.connected_at, timeout=60)
            await call.wait_quiet(quiet=2.0)
            said = await call.say(speech("What is the capital of France?"), 16000)
            heard_at = await call.wait_for_audio(said, timeout=60)
            await call.wait_quiet(quiet=2.0)
            reply = transcribe(call.received.audio_between(heard_at), TWILIO_RATE)
            assert sounds_like(reply, CAPITAL_ANSWER), reply
            reported_ms = ((REGISTRY.get_sample_value(LATENCY_SUM) or 0.0) - reported_before) * 1e3
            await call.hang_up()
            (run,) = srv.store.list_runs("acme", "gus")
            call_id = run["meta"]["call_id"]
            async with httpx.AsyncClient(base_url=srv.url) as http:
                path = f"/calls/{call_id}/trace"
                # The root span is recorded once the server has seen the hang-up.
                for _ in range(200):
                    got = await http.get(path, headers=auth(engine, "acme", "gus"))
                    assert got.status_code == 200, got.text
                    if got.json()["spans"][0]["name"] == "voice.call":
                        break
                    await asyncio.sleep(0.05)
                other = await http.get(path, headers=auth(engine, "acme", "mallory"))
            trace = run_trace(engine, "acme", "gus", run["run_id"])
        finally:
            shutdown_tracing()

    assert other.status_code == 404
    traced = CallTrace.model_validate(got.json())
    (root,) = traced.spans
    assert root.name == "voice.call" and root.attributes["baton.call_id"] == call_id
    assert [c.name for c in root.children] == ["voice.greeting", "voice.turn"]
    turn = root.children[1]
    assert turn.attributes["baton.voice.channel"] == "phone"
    assert turn.attributes["baton.run_id"] == run["run_id"]
    assert [c.name for c in turn.children] == STAGES
    stages_ms = sum(c.duration_ms for c in turn.children)
    assert reported_ms > 0
    assert abs(stages_ms - reported_ms) <= 0.1 * reported_ms, (stages_ms, reported_ms)
    for earlier, later in zip(turn.children, turn.children[1:], strict=False):
        assert earlier.end_ns <= later.start_ns
    (turn_end,) = [c for c in turn.children if c.name == "voice.turn_end"]
    assert [c.name for c in turn_end.children] == ["voice.stt"]

    # The run's step that answered is in the run's trace; it began once the turn was handed
    # over.
    (run_stage,) = [c for c in turn.children if c.name == "voice.run"]
    steps = [s for s in trace.spans if s.name == "run.step"]
    assert steps and all(s.start_ns >= run_stage.start_ns for s in steps)
    assert any(s.name == "agent.decide" for s in _walk(steps))
