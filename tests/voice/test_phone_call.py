"""A phone call over Twilio's media-stream protocol to the running server.

The client plays Twilio: it signs and POSTs the voice webhook, follows the TwiML to the
websocket, and speaks 8 kHz µ-law. It hears the greeting, asks a question, hears the answer
(transcribed by Whisper), hangs up, and the run is in the store under the linked user.
"""

from __future__ import annotations

import pytest

from tests.voice.server import CAPITAL_ANSWER, serve_voice, sounds_like, wait_for
from tests.voice.twilio_client import TWILIO_RATE, TwilioCall
from voice.bridge import GREETING
from voice.identity import link_number

pytestmark = pytest.mark.slow
TOKEN = "test-auth-token"


async def test_phone_call_greets_answers_and_keeps_the_run(
    voice_models, engine, tmp_path, outbox, speech, transcribe
):
    link_number(engine, "acme", "alice", "+1 (555) 123-0001")
    async with serve_voice(voice_models, engine, tmp_path, outbox, twilio_auth_token=TOKEN) as srv:
        call = TwilioCall(srv.url, caller="+15551230001", auth_token=TOKEN)
        await call.connect()
        greeting_at = await call.wait_for_audio(call.connected_at, timeout=15)
        await call.wait_quiet()
        greeting = transcribe(call.received.audio_between(greeting_at), TWILIO_RATE)
        assert sounds_like(greeting, GREETING), greeting

        question = speech("Tell me the capital city of France, please.", speed=0.9)
        spoken_until = await call.say(question, 16000)
        reply_at = await call.wait_for_audio(spoken_until, timeout=20)
        await call.wait_quiet()
        reply = transcribe(call.received.audio_between(reply_at), TWILIO_RATE)
        assert sounds_like(reply, CAPITAL_ANSWER), reply
        await call.hang_up()

        runs = srv.store.list_runs("acme", "alice")
        assert len(runs) == 1
        run = runs[0]
        assert run["channel"] == "voice"
        assert "france" in run["goal"].lower()
        assert run["status"] == "completed"
        assert run["result"] == CAPITAL_ANSWER
        assert run["meta"]["call_id"].startswith("call_")


async def test_unknown_number_is_a_guest_and_bad_messages_close_the_stream(
    voice_models, engine, tmp_path, outbox, speech
):
    async with serve_voice(voice_models, engine, tmp_path, outbox) as srv:
        call = TwilioCall(srv.url, caller="+15559870000")
        await call.connect()
        await call.wait_for_audio(call.connected_at, timeout=15)
        await call.send(
            {"event": "media", "streamSid": call.stream_sid, "media": {"payload": "%%"}}
        )
        closed = await wait_for(lambda: call.received.closed, timeout=10)
        assert closed[0] == 1007
        assert "base64" in closed[1]
        await call.close()

        other = TwilioCall(srv.url, caller="+15559870000")
        await other.connect()
        await other.wait_for_audio(other.connected_at, timeout=15)
        await other.send({"event": "dance", "streamSid": other.stream_sid})
        closed = await wait_for(lambda: other.received.closed, timeout=10)
        assert closed == (1008, "unknown event 'dance'")
        await other.close()

        # Nothing was written for the guest by bad input; its user exists, scoped to itself.
        guests = srv.store.list_runs(srv.voice_settings.voice_guest_tenant, _guest("+15559870000"))
        assert guests == []


def _guest(number: str) -> str:
    from voice.identity import guest_user_id

    return guest_user_id(number)
