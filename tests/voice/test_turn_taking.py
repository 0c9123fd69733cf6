"""Turn-taking over a phone call (Twilio media-stream protocol, real models, real server).

A caller who pauses briefly and goes on is answered once, after the real end of the turn; a
backchannel over the bot's speech neither stops it nor reaches the run or the caller's next
turn; an answer read during a pause (a speculative "yes") is dropped when the caller goes on
to say "no".
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.engines import SQLITE_ONLY
from tests.voice.server import (
    CAPITAL_ANSWER,
    DENIED_ANSWER,
    STORY_ANSWER,
    serve_voice,
    sounds_like,
)
from tests.voice.twilio_client import TWILIO_RATE, TwilioCall
from voice.identity import link_number

pytestmark = [pytest.mark.slow, SQLITE_ONLY]
# Longer than the VAD's stop (0.2 s, so the first part is transcribed on its own) and shorter
# than the turn-end wait after it (0.45 s).
SHORT_PAUSE = 0.3


def trimmed(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """The utterance without Piper's leading and trailing silence (pauses are then exact)."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio


async def _greeted(srv, caller: str) -> TwilioCall:
    call = TwilioCall(srv.url, caller=caller)
    await call.connect()
    await call.wait_for_audio(call.connected_at, timeout=15)
    await call.wait_quiet()
    return call


def _events(srv, user: str, run_id: str, kind: str) -> list[dict]:
    return [e for e in srv.store.events("acme", user, run_id) if e["type"] == kind]


async def test_a_caller_who_pauses_and_goes_on_is_answered_once_after_the_real_end(
    voice_models, engine, tmp_path, outbox, speech, transcribe
):
    link_number(engine, "acme", "gina", "+15551230007")
    first = trimmed(speech("What is the capital of France,"))
    rest = trimmed(speech("and which language do they speak there?"))
    async with serve_voice(voice_models, engine, tmp_path, outbox) as srv:
        call = await _greeted(srv, "+15551230007")
        paused_at = await call.say(first, 16000)
        await call.silence(SHORT_PAUSE)
        spoken_until = await call.say(rest, 16000)
        reply_at = await call.wait_for_audio(spoken_until, timeout=30)
        await call.wait_quiet()
        await call.hang_up()

        assert call.received.audio_between(paused_at, spoken_until).size == 0, (
            "the bot spoke in the caller's pause"
        )
        reply = transcribe(call.received.audio_between(reply_at), TWILIO_RATE)
        assert sounds_like(reply, CAPITAL_ANSWER), reply
        runs = srv.store.list_runs("acme", "gina")
        assert len(runs) == 1, [r["goal"] for r in runs]
        goal = runs[0]["goal"].lower()
        assert "france" in goal and "language" in goal, goal
        assert _events(srv, "gina", runs[0]["run_id"], "UserMessageReceived") == []


async def test_a_backchannel_over_the_bot_neither_stops_it_nor_reaches_the_run(
    voice_models, engine, tmp_path, outbox, speech, transcribe
):
    link_number(engine, "acme", "hana", "+15551230008")
    request = speech("Tell me a short story.", speed=0.95)
    murmurs = [trimmed(speech("Uh-huh.")), trimmed(speech("Mhm.", speed=1.2))]
    question = speech("What is the capital of France?")
    async with serve_voice(voice_models, engine, tmp_path, outbox) as srv:
        call = await _greeted(srv, "+15551230008")
        spoken_until = await call.say(request, 16000)
        story_at = await call.wait_for_audio(spoken_until, timeout=30)
        await call.silence(1.0)
        murmured_at = []
        for murmur in murmurs:
            murmured_at.append(await call.say(murmur, 16000))
            await call.silence(0.8)
        story_end = await call.wait_quiet()
        # The next request is read on its own, without the murmurs said before it.
        spoken_until = await call.say(question, 16000)
        await call.wait_for_audio(spoken_until, timeout=30)
        await call.wait_quiet()
        await call.hang_up()

        cleared = [t for t in call.received.clears if story_at <= t < story_end]
        assert cleared == [], "the bot was stopped"
        for at in murmured_at:
            # It may pause while the caller murmurs, and goes on afterwards.
            assert call.received.audio_between(at, story_end).size > 0, "the bot fell silent"
        story = transcribe(call.received.audio_between(story_at, story_end), TWILIO_RATE)
        assert sounds_like(story, STORY_ANSWER), story
        runs = srv.store.list_runs("acme", "hana")
        assert len(runs) == 2, [r["goal"] for r in runs]
        story_run = next(r for r in runs if "story" in r["goal"].lower())
        asked = next(r for r in runs if r is not story_run)["goal"]
        assert asked.lower().startswith("what"), asked
        assert _events(srv, "hana", story_run["run_id"], "UserMessageReceived") == []


async def test_a_yes_read_during_a_pause_is_dropped_when_the_caller_goes_on_to_say_no(
    voice_models, engine, tmp_path, outbox, speech, transcribe
):
    link_number(engine, "acme", "ivan", "+15551230009")
    request = speech("Please send an email to Alice about the budget.")
    yes = trimmed(speech("Yes, send it."))
    no = trimmed(speech("No, wait. Don't send it.", speed=1.05))
    async with serve_voice(voice_models, engine, tmp_path, outbox) as srv:
        call = await _greeted(srv, "+15551230009")
        spoken_until = await call.say(request, 16000)
        await call.wait_for_audio(spoken_until, timeout=30)
        await call.wait_quiet()
        await call.say(yes, 16000)
        # Long enough for "Yes, send it." to be transcribed and read before the caller goes on,
        # within the answer's grace after the turn-end wait.
        await call.silence(0.8)
        spoken_until = await call.say(no, 16000)
        reply_at = await call.wait_for_audio(spoken_until, timeout=30)
        await call.wait_quiet()
        await call.hang_up()

        reply = transcribe(call.received.audio_between(reply_at), TWILIO_RATE)
        assert sounds_like(reply, DENIED_ANSWER), reply
        assert outbox.sent == []
        (run,) = srv.store.list_runs("acme", "ivan")
        assert _events(srv, "ivan", run["run_id"], "ApprovalGranted") == []
        assert len(_events(srv, "ivan", run["run_id"], "ApprovalDenied")) == 1
