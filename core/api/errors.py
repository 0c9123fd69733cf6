"""Turn every error a caller can cause into a clear 4xx answer with a reason.

Every refusal has one shape, :class:`core.api.schemas.ErrorOut` (``{"error", "detail"}``), and
:data:`ERROR_RESPONSES` documents it on every operation of the OpenAPI schema.
"""

from __future__ import annotations

import email.message
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.api.schemas import ErrorOut
from core.errors import BatonError
from core.runs.log import RunNotFound
from core.runs.states import IllegalTransition

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "Malformed request (body not UTF-8 or not parseable)"),
        (401, "Missing, invalid or revoked API key"),
        (403, "Not allowed for this caller"),
        (404, "Not found in the caller's scope"),
        (409, "Contradicts the stored state"),
        (413, "Body or field over its size limit"),
        (415, "Body is not JSON"),
        (422, "Invalid input"),
    )
}
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}
_NO_BODY = {204, 304}


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors to status codes; validation errors keep FastAPI's detail list."""

    @app.exception_handler(BatonError)
    async def _baton(_req: Request, exc: BatonError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=exc.status)

    @app.exception_handler(IllegalTransition)
    async def _illegal(_req: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse({"error": "illegal_transition", "detail": str(exc)}, status_code=409)

    @app.exception_handler(RunNotFound)
    async def _missing(_req: Request, exc: RunNotFound) -> JSONResponse:
        return JSONResponse({"error": "not_found", "detail": f"no run '{exc}'"}, status_code=404)

    @app.exception_handler(HTTPException)
    async def _http(_req: Request, exc: HTTPException) -> Response:
        if exc.status_code in _NO_BODY:
            return Response(status_code=exc.status_code, headers=exc.headers)
        detail: Any = exc.detail
        # FastAPI says only "error parsing the body"; the cause tells the caller what to fix.
        cause = exc.__cause__
        if isinstance(cause, UnicodeDecodeError):
            detail = "the body is not valid UTF-8"
        elif isinstance(cause, ValueError):  # e.g. an integer of more than 4300 digits
            detail = f"the JSON body cannot be read: {cause}"
        elif not isinstance(detail, str | list):
            detail = str(detail)
        code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(
            {"error": code, "detail": detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        # FastAPI hands a non-JSON body to the model as bytes: say what to send instead.
        if any(tuple(e["loc"]) == ("body",) and isinstance(e.get("input"), bytes) for e in raw):
            return JSONResponse(
                {
                    "error": "unsupported_media_type",
                    "detail": "send the body as JSON (Content-Type: application/json)",
                },
                status_code=415,
            )
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in raw
        ]
        return JSONResponse({"error": "invalid_request", "detail": errors}, status_code=422)


async def _reply(send: Send, status: int, error: str, detail: str) -> None:
    body = ErrorOut(error=error, detail=detail).model_dump_json().encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 before the app reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await _reply(send, 413, "too_large", "request body is over the size limit")


class _TooLarge(Exception):
    pass


_NUL = "text must not contain NUL characters (\\u0000)"
_LONE = "text must be valid Unicode: a \\uD800-\\uDFFF escape is not part of a surrogate pair"
_NONFINITE = "numbers must be finite: NaN, Infinity and overflowing ones like 1e400 are refused"
# Deeper JSON could be stored but not served back (pydantic stops serialising at ~255 levels).
MAX_JSON_DEPTH = 64
_DEEP = f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"


def unstorable(value: Any) -> str | None:
    """Why a parsed JSON value holds something Baton cannot store and serve back, else None.

    PostgreSQL refuses NUL in text and JSONB and non-finite numbers in JSONB, a lone UTF-16
    surrogate has no UTF-8 form at all, and nesting is bounded. Iterative: depth costs no stack.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return _DEEP
        if isinstance(item, str):
            if "\x00" in item:
                return _NUL
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return _LONE
        elif isinstance(item, float) and not math.isfinite(item):
            return _NONFINITE
        elif isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


def _is_json(scope: Scope) -> bool:
    value = dict(scope.get("headers") or []).get(b"content-type")
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class StorableInput:
    """Refuse, with 422 before any handler runs, what the store cannot keep: NUL in the path or
    the query, and NUL, lone surrogates or non-finite numbers anywhere in a JSON body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = bytes(scope.get("query_string") or b"").lower()
        if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
            await _reply(send, 422, "invalid_input", _NUL)
            return
        if _is_json(scope):
            chunks: list[bytes] = []
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client left before sending its body
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            try:
                reason = unstorable(json.loads(body))
            except RecursionError:
                reason = _DEEP
            except ValueError:
                reason = None  # not JSON: the route's own parsing explains what is wrong
            if reason is not None:
                await _reply(send, 422, "invalid_input", reason)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A receive that hands the app the body read already, then the client's own messages."""
    pending = True

    async def again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
