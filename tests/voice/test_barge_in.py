"""Barge-in over the phone.

While the bot tells a story the caller talks over it: the bot falls quiet at once, the server
sends Twilio a "clear", no more bot audio comes until the caller's new turn is answered, the
answer is to the new turn, and both runs stay consistent in the store (the interrupted one
finished on its own). An interruption with a pause in it ("Stop, ... that's enough") is one,
and so is a one-word "Stop."
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from core.tracing import configure_tracing, shutdown_tracing
from core.tracing.service import call_trace
from core.tracing.tree import SpanNode
from tests.engines import SQLITE_ONLY
from tests.voice.server import CAPITAL_ANSWER, serve_voice, sounds_like
from tests.voice.twilio_client import TWILIO_RATE, TwilioCall
from voice.identity import link_number

pytestmark = [pytest.mark.slow, SQLITE_ONLY]


def _walk(nodes: list[SpanNode]) -> Iterator[SpanNode]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


async def _talk_over_a_story(
    call: TwilioCall, request: np.ndarray, interruption: np.ndarray
) -> tuple[float, float, float]:
    """Connect, ask for the story, and talk over it a second in: returns when the story was
    first heard, when the caller began talking over it, and when they stopped."""
    await call.connect()
    await call.wait_for_audio(call.connected_at, timeout=15)
    await call.wait_quiet()
    spoken_until = await call.say(request, 16000)
    story_at = await call.wait_for_audio(spoken_until, timeout=25)
    await call.silence(1.0)  # let the story play for a moment
    barge_at = time.monotonic()
    return story_at, barge_at, await call.say(interruption, 16000)


async def test_caller_speech_stops_the_bot_and_gets_its_own_answer(
    voice_models, engine, tmp_path, outbox, speech, transcribe
):
    link_number(engine, "acme", "erin", "+15551230005")
    request = speech("Tell me a short story.", speed=0.95)
    interruption = speech("Stop. What is the capital of France?", speed=1.1)
    async with serve_voice(voice_models, engine, tmp_path, outbox) as srv:
        configure_tracing(srv.settings, engine)
        try:
            call = TwilioCall(srv.url, caller="+15551230005")
            story_at, barge_at, interrupted_until = await _talk_over_a_story(
                call, request, interruption
            )
            answer_at = await call.wait_for_audio(interrupted_until, timeout=25)
            await call.wait_quiet()
            await call.hang_up()
        finally:
            shutdown_tracing()

        assert call.received.audio_between(story_at, barge_at).size > 0, "the bot was not talking"
        clears = [t for t in call.received.clears if t >= barge_at]
        assert clears, "no 'clear' was sent when the caller talked over the bot"
        # The bot fell quiet at the caller's first sound, before the interruption was sure.
        fell_quiet = call.received.fell_quiet_after(barge_at)
        assert fell_quiet is not None and fell_quiet < clears[0], (fell_quiet, clears[0])
        leftover = call.received.audio_between(clears[0], interrupted_until)
        assert leftover.size == 0, f"{leftover.size / TWILIO_RATE:.2f} s of bot audio after clear"
        answer = transcribe(call.received.audio_between(answer_at), TWILIO_RATE).lower()
        assert sounds_like(answer, CAPITAL_ANSWER), answer

        story, question = sorted(srv.store.list_runs("acme", "erin"), key=lambda r: r["created_at"])
        assert story["status"] == "completed" and "robot" in story["result"]
        assert question["status"] == "completed" and question["result"] == CAPITAL_ANSWER
        assert question["parent_run_id"] == story["run_id"]
        # The call's trace shows the barge-in, from the caller's onset to the stop, naming
        # the run whose answer was cut short.
        spans = call_trace(engine, "acme", "erin", story["meta"]["call_id"]).spans
        (barge_in,) = [s for s in _walk(spans) if s.name == "voice.barge_in"]
        assert barge_in.attributes["baton.voice.channel"] == "phone"
        assert barge_in.attributes["baton.run_id"] == story["run_id"]
        assert barge_in.duration_ms > 0
        assert barge_in.attributes["baton.voice.barge_in_ms"] == pytest.approx(
            barge_in.duration_ms, abs=1.0
        )
        for run in (story, question):
            rebuilt = srv.store.rebuilt_view("acme", "erin", run["run_id"])
            assert rebuilt["status"] == run["status"]
            assert rebuilt["last_event_seq"] == run["last_event_seq"]


@pytest.mark.parametrize(
    ("said", "speed"),
    [
        # Each part alone is as short as a murmur; the VAD hears the comma as the end of speech.
        ("Stop, that's enough.", 0.9),
        # Shorter than a murmur: its word, not its length, stops the bot.
        ("Stop.", 1.1),
    ],
    ids=["with-a-pause", "one-word"],
)
async def test_a_short_interruption_stops_the_bot_for_good(
    voice_models, engine, tmp_path, outbox, speech, transcribe, said, speed
):
    link_number(engine, "acme", "finn", "+15551230047")
    request = speech("Tell me a short story.", speed=0.95)
    interruption = speech(said, speed=speed)
    async with serve_voice(voice_models, engine, tmp_path, outbox) as srv:
        call = TwilioCall(srv.url, caller="+15551230047")
        story_at, barge_at, interrupted_until = await _talk_over_a_story(
            call, request, interruption
        )
        await call.wait_quiet()
        await call.hang_up()

        assert call.received.audio_between(story_at, barge_at).size > 0, "the bot was not talking"
        clears = [t for t in call.received.clears if t >= barge_at]
        assert clears, f"the bot talked on over {said!r}"
        leftover = call.received.audio_between(clears[0], interrupted_until)
        assert leftover.size == 0, f"{leftover.size / TWILIO_RATE:.2f} s of bot audio after clear"
        heard = transcribe(call.received.audio_between(interrupted_until), TWILIO_RATE).lower()
        assert "robot" not in heard and "risky" not in heard, heard
