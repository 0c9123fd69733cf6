"""The Twilio REST double, driven through the real ``twilio`` client and a real webhook app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.voice.twilio_rest import PlacedCall, TwilioRest, serve_twilio_rest

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "token-" + "2" * 26
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="ws://x/stream">'
    '<Parameter name="callback" value="cb_1"/></Stream></Connect></Response>'
)


@pytest.fixture(autouse=True)
def _no_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    # An edge or region makes the client rewrite the host name, which would break the local URL.
    monkeypatch.delenv("TWILIO_EDGE", raising=False)
    monkeypatch.delenv("TWILIO_REGION", raising=False)


@pytest.fixture
async def rest() -> AsyncIterator[TwilioRest]:
    async with serve_twilio_rest(ACCOUNT_SID, AUTH_TOKEN) as double:
        yield double


def client_for(rest: TwilioRest, auth_token: str = AUTH_TOKEN) -> Client:
    client = Client(ACCOUNT_SID, auth_token)
    client.api.base_url = rest.url
    return client


async def place(client: Client, answer_url: str, status_url: str) -> str:
    # The twilio client blocks (requests); keep it off the event loop.
    call = await asyncio.to_thread(
        client.calls.create,
        to="+15551230005",
        from_="+15550001111",
        url=answer_url,
        status_callback=status_url,
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        status_callback_method="POST",
        method="POST",
        timeout=25,
    )
    assert call.status == "queued"
    assert call.sid is not None
    return call.sid


@contextlib.asynccontextmanager
async def webhook_app(twiml: str = TWIML) -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """Baton's side, in miniature: checks Twilio's signature, answers TwiML, logs callbacks."""
    validator = RequestValidator(AUTH_TOKEN)
    statuses: list[dict[str, str]] = []

    async def signed_form(request: Request) -> dict[str, str] | None:
        form = {k: str(v) for k, v in (await request.form()).items()}
        signature = request.headers.get("x-twilio-signature", "")
        return form if validator.validate(str(request.url), form, signature) else None

    async def voice(request: Request) -> Response:
        form = await signed_form(request)
        if form is None:
            return Response("bad signature", status_code=403)
        assert form["CallStatus"] == "in-progress"
        assert form["Direction"] == "outbound-api"
        return Response(twiml, media_type="application/xml")

    async def status(request: Request) -> Response:
        form = await signed_form(request)
        if form is None:
            return Response("bad signature", status_code=403)
        statuses.append(form)
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/voice", voice, methods=["POST"]),
            Route("/status", status, methods=["POST"]),
        ]
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}", statuses
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


async def test_create_call_is_recorded(rest: TwilioRest) -> None:
    sid = await place(client_for(rest), "https://baton.test/answer?c=1", "https://baton.test/st")

    call = await rest.wait_for_call(timeout=5)
    assert call.sid == sid
    assert sid.startswith("CA") and len(sid) == 34
    assert (call.to, call.from_) == ("+15551230005", "+15550001111")
    assert call.url == "https://baton.test/answer?c=1"
    assert call.method == "POST"
    assert call.status_callback == "https://baton.test/st"
    assert call.status_callback_events == ["initiated", "ringing", "answered", "completed"]
    assert call.timeout == 25
    assert len(rest.calls) == 1
    with pytest.raises(TimeoutError):
        await rest.wait_for_call(timeout=0.1)


async def test_wrong_credentials_are_refused(rest: TwilioRest) -> None:
    with pytest.raises(TwilioRestException) as error:
        await place(client_for(rest, "wrong"), "https://baton.test/a", "https://baton.test/s")
    assert error.value.status == 401
    assert error.value.code == 20003
    assert rest.calls == []


async def test_missing_url_is_a_bad_request(rest: TwilioRest) -> None:
    client = client_for(rest)
    with pytest.raises(TwilioRestException) as error:
        await asyncio.to_thread(client.calls.create, to="+15551230005", from_="+15550001111")
    assert error.value.status == 400
    assert error.value.code == 21205
    assert rest.calls == []


async def test_answer_and_status_callbacks_are_signed(rest: TwilioRest) -> None:
    async with webhook_app() as (base, statuses):
        await place(client_for(rest), f"{base}/voice", f"{base}/status")
        call: PlacedCall = await rest.wait_for_call(timeout=5)

        assert await rest.answer(call) == ("ws://x/stream", {"callback": "cb_1"})
        assert call.status == "in-progress"

        response = await rest.report_status(call, "completed")
        assert response is not None and response.status_code == 204
        assert statuses[-1]["CallStatus"] == "completed"
        assert statuses[-1]["CallSid"] == call.sid
        assert statuses[-1]["To"] == "+15551230005"


async def test_unsubscribed_event_is_not_sent(rest: TwilioRest) -> None:
    async with webhook_app() as (base, statuses):
        client = client_for(rest)
        await asyncio.to_thread(
            client.calls.create,
            to="+15551230005",
            from_="+15550001111",
            url=f"{base}/voice",
            status_callback=f"{base}/status",
        )
        call = await rest.wait_for_call(timeout=5)
        assert await rest.report_status(call, "ringing") is None
        response = await rest.report_status(call, "no-answer")
        assert response is not None and response.status_code == 204
        assert [s["CallStatus"] for s in statuses] == ["no-answer"]


async def test_answer_without_stream_fails(rest: TwilioRest) -> None:
    async with webhook_app("<Response><Say>Sorry.</Say></Response>") as (base, _):
        await place(client_for(rest), f"{base}/voice", f"{base}/status")
        call = await rest.wait_for_call(timeout=5)
        with pytest.raises(AssertionError, match="Sorry"):
            await rest.answer(call)
