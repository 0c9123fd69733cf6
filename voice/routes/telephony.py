"""Phone calls: the provider's voice webhook and the media-stream websocket.

POST /telephony/{provider}/voice answers the provider's webhook with XML that connects the
call's audio to ``/telephony/{provider}/stream``; that websocket speaks the provider's media
stream protocol and runs the call pipeline over it. Only the provider chosen by
BATON_VOICE_TELEPHONY is served (others are 404).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from sqlalchemy import Engine
from starlette.websockets import WebSocketDisconnect, WebSocketState

from core.config import Settings
from voice.callbacks.queue import CallbackStatus, move
from voice.config import VoiceSettings
from voice.identity import resolve_caller
from voice.pipeline import build_call_pipeline, run_call
from voice.runtime import VoiceRuntime, voice_settings_of
from voice.session import CallSession
from voice.transports.telephony import (
    POLICY,
    GuardedSerializer,
    ProtocolViolation,
    Provider,
    StreamStart,
    check_caller_signature,
    parse_json,
    provider_named,
    sign_caller,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["telephony"])
START_TIMEOUT_S = 10.0
MAX_BEFORE_START = 3
MAX_WEBHOOK_BYTES = 16_384


def _settings(app: Any) -> Settings:
    settings: Settings = app.state.settings
    return settings


def _provider(name: str, voice_settings: VoiceSettings) -> Provider:
    if name != voice_settings.voice_telephony.strip().lower():
        raise HTTPException(404, f"telephony provider '{name}' is not enabled here")
    return provider_named(name)


def _public_base(settings: Settings) -> str | None:
    return settings.public_url.rstrip("/") if settings.public_url else None


def _webhook_url(request: Request, settings: Settings) -> str:
    """The URL the provider requested (what Twilio signs): BATON_PUBLIC_URL wins over Host."""
    base = _public_base(settings)
    if base is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


def stream_url(request: Request, settings: Settings, provider: str) -> str:
    """The websocket URL written into the webhook answer (wss for https, ws for http)."""
    path = f"/telephony/{provider}/stream"
    base = _public_base(settings)
    if base is None:
        base = f"{request.url.scheme}://{request.headers.get('host') or request.url.netloc}"
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + path
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + path
    return base + path


async def webhook_form(
    request: Request, settings: Settings, voice_settings: VoiceSettings, provider: Provider
) -> dict[str, str]:
    """The provider's form-encoded webhook body, its Twilio signature checked when a token
    is set; 4xx with the reason for anything else."""
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise HTTPException(413, f"webhook body over {MAX_WEBHOOK_BYTES} bytes")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise HTTPException(400, "webhook body is not UTF-8 form data") from None
    token = voice_settings.twilio_auth_token
    if provider.name == "twilio" and token:
        from twilio.request_validator import RequestValidator

        signature = request.headers.get("x-twilio-signature")
        if not signature:
            raise HTTPException(403, "missing X-Twilio-Signature")
        if not RequestValidator(token).validate(_webhook_url(request, settings), form, signature):
            raise HTTPException(403, "X-Twilio-Signature does not match this request")
    return form


@router.post("/telephony/{provider}/voice", summary="The provider's voice webhook")
async def voice_webhook(provider: str, request: Request) -> Response:
    """Answer an incoming call: connect its audio to our media-stream websocket."""
    settings = _settings(request.app)
    voice_settings = voice_settings_of(request.app)
    chosen = _provider(provider, voice_settings)
    form = await webhook_form(request, settings, voice_settings, chosen)
    token = voice_settings.twilio_auth_token
    # Control characters (NUL included) are not XML: they would make the TwiML unreadable.
    caller = "".join(c for c in (form.get("From") or form.get("from") or "") if c.isprintable())
    caller = caller.strip()[:64]
    params = {"caller": caller}
    if token:
        params["caller_sig"] = sign_caller(token, caller)
    xml = chosen.webhook_xml(stream_url(request, settings, chosen.name), params)
    return Response(xml, media_type="application/xml")


async def _read_start(websocket: WebSocket, provider: Provider) -> StreamStart:
    for _ in range(MAX_BEFORE_START):
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        data = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        start = provider.parse_start(parse_json(data))
        if start is not None:
            return start
    raise ProtocolViolation(POLICY, "no 'start' message at the beginning of the stream")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code=code, reason=reason)


async def _callback_session(
    voice_settings: VoiceSettings, engine: Engine, start: StreamStart, callback_id: str
) -> CallSession:
    """The session of a call-back's stream: the person and run the call-back was placed for.

    The stream's parameters are signed by this server (the answer webhook wrote them), and a
    call-back connects once: a replayed stream start is refused.
    """
    check_caller_signature(
        voice_settings.twilio_auth_token,
        f"callback:{callback_id}",
        start.params.get("callback_sig"),
    )
    row = await asyncio.to_thread(
        move, engine, callback_id, before={CallbackStatus.ANSWERED}, to=CallbackStatus.CONNECTED
    )
    if row is None:
        raise ProtocolViolation(POLICY, "this call-back is not waiting for its stream")
    return CallSession(
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        channel="phone",
        caller=start.caller,
        run_id=row["run_id"],
        meta={"callback": row["kind"], "callback_id": callback_id},
    )


@router.websocket("/telephony/{provider}/stream")
async def media_stream(websocket: WebSocket, provider: str) -> None:
    """One phone call: read the stream's start, identify the caller, run the pipeline."""
    voice: VoiceRuntime = websocket.app.state.voice
    voice_settings = voice.voice_settings
    if provider != voice_settings.voice_telephony.strip().lower():
        await websocket.close(code=POLICY, reason=f"provider '{provider[:40]}' is not enabled")
        return
    chosen = provider_named(provider)
    await websocket.accept()
    try:
        start = await asyncio.wait_for(_read_start(websocket, chosen), START_TIMEOUT_S)
        check_caller_signature(
            voice_settings.twilio_auth_token, start.caller or "", start.params.get("caller_sig")
        )
    except ProtocolViolation as exc:
        await _close(websocket, exc.code, exc.reason)
        return
    except TimeoutError:
        await _close(websocket, POLICY, "no 'start' message within 10 seconds")
        return
    except WebSocketDisconnect:
        return
    services = await voice.services()
    callback_id = start.params.get("callback")
    if callback_id:
        try:
            call = await _callback_session(voice_settings, services.engine, start, callback_id)
        except ProtocolViolation as exc:
            await _close(websocket, exc.code, exc.reason)
            return
        call.meta.update({"provider": chosen.name, "provider_call_id": start.call_id})
    else:
        who = await asyncio.to_thread(
            resolve_caller, services.engine, start.caller, voice_settings.voice_guest_tenant
        )
        call = CallSession(
            tenant_id=who.tenant_id,
            user_id=who.user_id,
            channel="phone",
            caller=who.number,
            guest=who.guest,
            meta={"provider": chosen.name, "provider_call_id": start.call_id},
        )
    ending: list[asyncio.Task[None]] = []

    async def on_violation(exc: ProtocolViolation) -> None:
        log.info("call %s: closing the stream: %s", call.call_id, exc.reason)
        await _close(websocket, exc.code, exc.reason)
        ending.append(asyncio.ensure_future(worker.cancel(reason=exc.reason)))

    async def on_end() -> None:
        # The caller hung up; the run keeps going (or waiting) in the core.
        ending.append(asyncio.ensure_future(worker.cancel(reason="caller hung up")))

    serializer = GuardedSerializer(
        chosen.serializer(start), chosen, start, on_violation=on_violation, on_end=on_end
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
        ),
    )
    worker = build_call_pipeline(transport, call, services)

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport: Any, _ws: Any) -> None:
        ending.append(asyncio.ensure_future(worker.cancel(reason="websocket closed")))

    voice.calls[call.call_id] = worker
    try:
        await run_call(worker)
    finally:
        voice.calls.pop(call.call_id, None)
        for task in ending:
            with contextlib.suppress(Exception):
                await task
        await _close(websocket, 1000, "call ended")
