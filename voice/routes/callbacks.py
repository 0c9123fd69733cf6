"""Twilio's webhooks for a call-back Baton placed: the answer and the final status.

``/answer`` is requested when the person picks up: it connects the call to the same media
stream as an incoming call, with the call-back named (and signed) in the stream's parameters.
``/status`` reports how the call ended; a call nobody answered falls back to a push.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from core.api.deps import RuntimeDep
from voice.callbacks.dialer import fall_back_to_push
from voice.callbacks.queue import CallbackStatus, get_callback, move
from voice.routes.telephony import stream_url, webhook_form
from voice.runtime import voice_settings_of
from voice.transports.telephony import provider_named, sign_caller

router = APIRouter(prefix="/telephony/twilio/callbacks", tags=["telephony"])
S = CallbackStatus
# Twilio's final CallStatus values for a call that never reached the person.
NOT_REACHED = frozenset({"no-answer", "busy", "failed", "canceled"})
HANG_UP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'


async def _placed_call(
    request: Request, rt: RuntimeDep, callback_id: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """The signed form and the call-back it is about; 404 unless this server placed it."""
    voice_settings = voice_settings_of(request.app)
    if not voice_settings.twilio_auth_token:
        # Unsigned webhooks could steer a call-back: without the token there are none.
        raise HTTPException(404, "call-backs are not configured on this server")
    form = await webhook_form(request, rt.settings, voice_settings, provider_named("twilio"))
    row = await asyncio.to_thread(get_callback, rt.engine, callback_id)
    if row is None or not row["provider_call_id"]:
        raise HTTPException(404, f"no call-back '{callback_id[:40]}' was placed")
    if form.get("CallSid") != row["provider_call_id"]:
        raise HTTPException(403, "CallSid is not the call placed for this call-back")
    return form, row


@router.post("/{callback_id}/answer", summary="A call-back was picked up")
async def callback_answered(callback_id: str, request: Request, rt: RuntimeDep) -> Response:
    """Connect the answered call-back to the media stream (once; a repeat hangs up)."""
    form, _row = await _placed_call(request, rt, callback_id)
    moved = await asyncio.to_thread(move, rt.engine, callback_id, before={S.RINGING}, to=S.ANSWERED)
    if moved is None:
        return Response(HANG_UP, media_type="application/xml")
    # The person's number as Twilio dialed it (the request is signed).
    number = "".join(c for c in form.get("To", "") if c.isprintable()).strip()[:64]
    token = str(voice_settings_of(request.app).twilio_auth_token)
    params = {
        "caller": number,
        "caller_sig": sign_caller(token, number),
        "callback": callback_id,
        "callback_sig": sign_caller(token, f"callback:{callback_id}"),
    }
    xml = provider_named("twilio").webhook_xml(stream_url(request, rt.settings, "twilio"), params)
    return Response(xml, media_type="application/xml")


@router.post("/{callback_id}/status", summary="How a call-back ended", status_code=204)
async def callback_status(callback_id: str, request: Request, rt: RuntimeDep) -> Response:
    """Record the call's end; a call that never reached the person becomes a push."""
    form, row = await _placed_call(request, rt, callback_id)
    status = form.get("CallStatus", "")
    if status in NOT_REACHED or status == "completed":
        # "completed" before our stream connected: answered by voicemail or hung up at once.
        moved = await asyncio.to_thread(
            move, rt.engine, callback_id, before={S.RINGING, S.ANSWERED}, to=S.UNANSWERED,
            reason=f"twilio: {status}"[:300],
        )  # fmt: skip
        if moved is not None:
            await asyncio.to_thread(fall_back_to_push, rt.engine, row, f"the call ended {status}")
            return Response(status_code=204)
    if status == "completed":
        await asyncio.to_thread(move, rt.engine, callback_id, before={S.CONNECTED}, to=S.COMPLETED)
    return Response(status_code=204)
