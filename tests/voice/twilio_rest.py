"""A local stand-in for Twilio's REST API, for the outbound calls Baton places.

Baton places call-back calls with the official ``twilio`` client; pointed at this double
(``client.api.base_url = rest.url``) the client speaks the real wire protocol to it:
``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` with a form body and HTTP basic auth.
The double checks the credentials and the required parameters like Twilio does (401 with
error 20003, 400 with 21201/21213/21205), records the call and answers 201 with a call
resource. The test then plays Twilio's part of the call: :meth:`TwilioRest.answer` POSTs the
call's answer URL with a real ``X-Twilio-Signature`` and returns the ``<Connect><Stream>``
from the TwiML (hand it to :meth:`tests.voice.twilio_client.TwilioCall.connect`), and
:meth:`TwilioRest.report_status` sends the status callbacks.

The server runs under uvicorn on a free loopback port in its own thread, so a synchronous
``client.calls.create`` works even when it is (wrongly) called on the test's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import email.utils
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"

# Twilio sends a terminal status under the "completed" event, which is always delivered when
# a StatusCallback is set; the other events only when asked for in StatusCallbackEvent.
_EVENT_OF_STATUS = {
    "queued": "initiated",
    "initiated": "initiated",
    "ringing": "ringing",
    "in-progress": "answered",
}
_TERMINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


@dataclass
class PlacedCall:
    """One call created through the REST API, as the double received it."""

    sid: str
    to: str
    from_: str
    url: str
    method: str
    status_callback: str | None
    status_callback_events: list[str]
    created_at: float  # time.monotonic()
    status_callback_method: str = "POST"
    timeout: int | None = None
    status: str = "queued"
    answered_at: float | None = None
    params: dict[str, list[str]] = field(default_factory=dict)  # the whole form, as sent


def _now_rfc2822() -> str:
    return email.utils.format_datetime(datetime.now(UTC))


def _error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's legacy error body, the shape ``TwilioRestException`` is built from."""
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def _basic_auth(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _is_absolute_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class TwilioRest:
    """The double's state and Twilio's side of each placed call."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.url = ""  # set once the server listens
        self.calls: list[PlacedCall] = []  # appended from the server thread
        self._taken = 0
        self._sequence = 0
        self.app = Starlette(
            routes=[
                Route(
                    f"/{API_VERSION}/Accounts/{{account}}/Calls.json",
                    self._create_call,
                    methods=["POST"],
                ),
            ],
            exception_handlers={HTTPException: self._http_error},
        )

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        return _error(status, status, str(getattr(exc, "detail", exc)))

    async def _create_call(self, request: Request) -> Response:
        if _basic_auth(request) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        if request.path_params["account"] != self.account_sid:
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        # Parsed by hand: StatusCallbackEvent comes as repeated keys.
        params: dict[str, list[str]] = {}
        for key, value in parse_qsl((await request.body()).decode(), keep_blank_values=True):
            params.setdefault(key, []).append(value)

        def one(name: str) -> str:
            return params.get(name, [""])[-1]

        if not one("To"):
            return _error(400, 21201, "No 'To' number is specified")
        if not one("From"):
            return _error(400, 21213, "No 'From' number is specified")
        # Twilio would also take Twiml or ApplicationSid instead; Baton only uses Url.
        if not one("Url"):
            return _error(400, 21205, "Url parameter is required.")
        if not _is_absolute_http(one("Url")):
            return _error(400, 21205, f"Url is not a valid URL: {one('Url')}")
        if one("StatusCallback") and not _is_absolute_http(one("StatusCallback")):
            return _error(400, 21609, f"Invalid StatusCallback url: {one('StatusCallback')}")
        timeout = one("Timeout")
        if timeout and not timeout.isdigit():
            return _error(400, 21216, f"Invalid Timeout: {timeout}")

        call = PlacedCall(
            sid="CA" + uuid.uuid4().hex,
            to=one("To"),
            from_=one("From"),
            url=one("Url"),
            method=(one("Method") or "POST").upper(),
            status_callback=one("StatusCallback") or None,
            status_callback_events=params.get("StatusCallbackEvent", []),
            created_at=time.monotonic(),
            status_callback_method=(one("StatusCallbackMethod") or "POST").upper(),
            timeout=int(timeout) if timeout else None,
            params=params,
        )
        self.calls.append(call)
        return JSONResponse(self._resource(call), status_code=201)

    def _resource(self, call: PlacedCall) -> dict[str, object]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{call.sid}"
        now = _now_rfc2822()
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "parent_call_sid": None,
            "date_created": now,
            "date_updated": now,
            "to": call.to,
            "to_formatted": call.to,
            "from": call.from_,
            "from_formatted": call.from_,
            "phone_number_sid": None,
            "status": call.status,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "direction": "outbound-api",
            "answered_by": None,
            "annotation": None,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": f"{uri}.json",
            "subresource_uris": {
                "notifications": f"{uri}/Notifications.json",
                "recordings": f"{uri}/Recordings.json",
                "payments": f"{uri}/Payments.json",
                "events": f"{uri}/Events.json",
                "siprec": f"{uri}/Siprec.json",
                "streams": f"{uri}/Streams.json",
                "transcriptions": f"{uri}/Transcriptions.json",
                "user_defined_message_subscriptions": f"{uri}/UserDefinedMessageSubscriptions.json",
                "user_defined_messages": f"{uri}/UserDefinedMessages.json",
            },
        }

    async def wait_for_call(self, timeout: float = 20.0) -> PlacedCall:
        """The next call not yet taken by an earlier ``wait_for_call``; polls until one comes."""
        deadline = time.monotonic() + timeout
        while self._taken >= len(self.calls):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no call placed within {timeout} s")
            await asyncio.sleep(0.02)
        call = self.calls[self._taken]
        self._taken += 1
        return call

    def _call_form(self, call: PlacedCall, status: str) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "CallSid": call.sid,
            "From": call.from_,
            "To": call.to,
            "Direction": "outbound-api",
            "CallStatus": status,
            "ApiVersion": API_VERSION,
        }

    async def _signed_request(self, method: str, url: str, form: dict[str, str]) -> httpx.Response:
        """Send ``form`` the way Twilio would: signed over the exact URL it requests.

        For GET the parameters go in the query string and the signature covers that whole URL
        with no body parameters, as ``RequestValidator`` expects.
        """
        validator = RequestValidator(self.auth_token)
        async with httpx.AsyncClient(timeout=30) as http:
            if method == "GET":
                full = f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(form)}"
                headers = {"X-Twilio-Signature": validator.compute_signature(full, {})}
                return await http.get(full, headers=headers)
            headers = {"X-Twilio-Signature": validator.compute_signature(url, form)}
            return await http.post(url, data=form, headers=headers)

    async def answer(self, call: PlacedCall) -> tuple[str, dict[str, str]]:
        """The callee picks up: request the call's answer URL like Twilio; return its Stream.

        Returns the ``<Connect><Stream url>`` and its ``<Parameter>`` name/value pairs. Raises
        AssertionError (with the body) on an error status or TwiML without Connect/Stream.
        """
        response = await self._signed_request(
            call.method, call.url, self._call_form(call, "in-progress")
        )
        if not response.is_success:
            raise AssertionError(f"answer URL gave {response.status_code}: {response.text}")
        try:
            stream = ET.fromstring(response.text).find("./Connect/Stream")
        except ET.ParseError as exc:
            raise AssertionError(f"answer URL gave no TwiML ({exc}): {response.text}") from exc
        if stream is None:
            raise AssertionError(f"TwiML without <Connect><Stream>: {response.text}")
        call.status = "in-progress"
        call.answered_at = time.monotonic()
        params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return stream.get("url", ""), params

    async def report_status(self, call: PlacedCall, status: str) -> httpx.Response | None:
        """Send the status callback for ``status`` ("ringing", "no-answer", "completed", ...).

        Like Twilio, nothing is sent (None is returned) when the call has no StatusCallback,
        or for a non-terminal status whose event was not in StatusCallbackEvent; terminal
        statuses belong to the "completed" event, which is always delivered.
        """
        call.status = status
        if call.status_callback is None:
            return None
        if status not in _TERMINAL:
            event = _EVENT_OF_STATUS.get(status, status)
            if event not in call.status_callback_events:
                return None
        self._sequence += 1
        form = self._call_form(call, status)
        form |= {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._sequence),
            "Timestamp": _now_rfc2822(),
        }
        if status in _TERMINAL:
            talked = 0.0 if call.answered_at is None else time.monotonic() - call.answered_at
            form["CallDuration"] = str(int(talked))
        return await self._signed_request(call.status_callback_method, call.status_callback, form)


@contextlib.asynccontextmanager
async def serve_twilio_rest(account_sid: str, auth_token: str) -> AsyncIterator[TwilioRest]:
    """Serve the REST double on a free 127.0.0.1 port until the block ends."""
    rest = TwilioRest(account_sid, auth_token)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(rest.app, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="twilio-rest-double", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise AssertionError("the Twilio REST double did not start")
            await asyncio.sleep(0.02)
        rest.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield rest
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
        sock.close()
