"""Calling the person back over the phone protocol (real speech and models).

The caller hangs up with the yes/no question unanswered; Baton places one outbound call
through the real ``twilio`` client (to a local server speaking Twilio's REST API), the
answered call connects to the media stream, opens with the question, and a spoken "yes"
sends the email exactly once. A call-back nobody answers becomes a push instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.config import Settings
from core.runs.events import EventType
from core.runs.surface_events import record_run_event
from tests.voice.server import VoiceServer, serve_voice, sounds_like, wait_for
from tests.voice.twilio_client import TWILIO_RATE, TwilioCall
from tests.voice.twilio_rest import serve_twilio_rest
from voice.approvals import approval_question
from voice.callbacks.dialer import Dialer
from voice.callbacks.prefs import Prefs, set_prefs
from voice.callbacks.queue import callbacks_for_run
from voice.config import VoiceSettings
from voice.identity import link_number

pytestmark = pytest.mark.slow
SID, TOKEN, OURS = "AC" + "2" * 32, "callback-test-token", "+15550002222"
EMAIL = {"tool_name": "email.send", "arguments_json": {"to": "Alice", "subject": "the budget"}}
SENT = "Done. The email to Alice is on its way."
QUIET_SECONDS = 3.0


async def _heard_after(call: TwilioCall, since: float, transcribe) -> str:
    heard_at = await call.wait_for_audio(since, timeout=60)
    await call.wait_quiet(quiet=QUIET_SECONDS)
    return transcribe(call.received.audio_between(heard_at), TWILIO_RATE).lower()


def _dialer(srv: VoiceServer, api_url: str) -> Dialer:
    """The server's dialer, with the URL Twilio reaches it at (known once it listens)."""
    settings: Settings = srv.settings.model_copy(update={"public_url": srv.url})
    voice_settings: VoiceSettings = srv.voice_settings.model_copy(
        update={
            "twilio_account_sid": SID,
            "twilio_from_number": OURS,
            "twilio_api_url": api_url,
            "voice_callback_delay_secs": 0,
        }
    )
    return Dialer(srv.engine, settings, voice_settings, srv.app.state.voice.on_a_call)


async def _left_open(srv: VoiceServer, number: str, user: str, speech, transcribe) -> str:
    """Call in, ask for the email, hang up at the question; returns the run id."""
    call = TwilioCall(srv.url, caller=number, auth_token=TOKEN)
    await call.connect()
    await _heard_after(call, call.connected_at, transcribe)
    said = await call.say(speech("Email Alice about the budget, please."), 16000)
    asked = await _heard_after(call, said, transcribe)
    assert sounds_like(asked, approval_question(EMAIL)), asked
    await call.hang_up()
    (run,) = srv.store.list_runs("acme", user)

    def queued() -> list[dict[str, Any]]:
        return callbacks_for_run(srv.engine, "acme", user, run["run_id"])

    assert [c["kind"] for c in await wait_for(queued)] == ["approval"]
    return str(run["run_id"])


def _opt_in(srv: VoiceServer, user: str, number: str) -> None:
    link_number(srv.engine, "acme", user, number)
    prefs = Prefs(True, number, quiet_start="00:00", quiet_end="00:00")
    set_prefs(srv.engine, "acme", user, prefs)


async def test_a_question_left_open_is_asked_again_in_a_call_back_and_a_yes_sends_once(
    voice_models, engine, tmp_path, outbox, speech, transcribe
):
    number = "+15551230021"
    async with (
        serve_voice(voice_models, engine, tmp_path, outbox, twilio_auth_token=TOKEN) as srv,
        serve_twilio_rest(SID, TOKEN) as rest,
    ):
        _opt_in(srv, "lea", number)
        run_id = await _left_open(srv, number, "lea", speech, transcribe)

        dialer = _dialer(srv, rest.url)
        assert await asyncio.to_thread(dialer.run_once) == 1
        placed = await rest.wait_for_call()
        assert placed.to == number
        stream, params = await rest.answer(placed)
        back = TwilioCall(srv.url, caller=number, auth_token=TOKEN)
        back.call_sid = placed.sid
        await back.connect(stream, params)
        opening = await _heard_after(back, back.connected_at, transcribe)
        assert "calling back" in opening, opening
        assert sounds_like(opening[-len(approval_question(EMAIL)) - 10 :],
                           approval_question(EMAIL), 0.6), opening  # fmt: skip
        said = await back.say(speech("Yes, go ahead.", variability=0.4), 16000)
        done = await _heard_after(back, said, transcribe)
        assert sounds_like(done, SENT), done
        await back.hang_up()
        await rest.report_status(placed, "completed")
        # A second pass, or Twilio asking for the answer again, rings nobody twice.
        assert await asyncio.to_thread(dialer.run_once) == 0
        assert len(rest.calls) == 1

        assert len(outbox.sent) == 1
        (approval,) = srv.store.approvals("acme", "lea", run_id)
        assert (approval["status"], approval["channel"]) == ("approved", "voice")
        statuses = [c["status"] for c in callbacks_for_run(srv.engine, "acme", "lea", run_id)]
        assert statuses == ["completed"]


async def test_a_call_back_nobody_answers_becomes_a_push_and_cannot_be_connected_later(
    voice_models, engine, tmp_path, outbox
):
    number = "+15551230022"
    async with (
        serve_voice(voice_models, engine, tmp_path, outbox, twilio_auth_token=TOKEN) as srv,
        serve_twilio_rest(SID, TOKEN) as rest,
    ):
        _opt_in(srv, "max", number)
        # The run asked its question on a phone call the person then hung up.
        run_id = srv.store.create_run("acme", "max", "Email Alice about the budget")["run_id"]
        run = await wait_for(lambda: srv.store.get_run("acme", "max", run_id)["pending_approval_id"]
                             and srv.store.get_run("acme", "max", run_id))  # fmt: skip
        handoff = {
            "reason": "call_ended_with_approval_pending", "channel": "voice",
            "call_channel": "phone", "approval_id": run["pending_approval_id"],
        }  # fmt: skip
        record_run_event(srv.engine, "acme", "max", run_id, EventType.HANDOFF_REQUESTED, handoff)
        assert await asyncio.to_thread(_dialer(srv, rest.url).run_once) == 1
        placed = await rest.wait_for_call()
        await rest.report_status(placed, "no-answer")

        (callback,) = callbacks_for_run(srv.engine, "acme", "max", run_id)
        assert (callback["status"], callback["reason"]) == ("unanswered", "twilio: no-answer")
        fallbacks = [
            e["data"]["callback_id"] for e in srv.store.events("acme", "max", run_id)
            if e["type"] == "HandoffRequested" and e["data"]["reason"] == "callback_unanswered"
        ]  # fmt: skip
        assert fallbacks == [callback["callback_id"]]
        # Twilio asking for the answer after giving up gets a hang-up, not a stream.
        with pytest.raises(AssertionError, match="Hangup"):
            await rest.answer(placed)
    assert outbox.sent == []
