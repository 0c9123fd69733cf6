"""Who is calling: a Baton API key, checked on every HTTP request or once for a stdio process.

The same keys and the same refusals as the REST API (:mod:`core.api.deps`): a missing or
invalid key on HTTP is a 401 before any MCP message is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from core.auth.keys import Identity, verify_key
from core.auth.scopes import Scope as Permission
from core.auth.scopes import has_scope, missing_scope_reason

APPROVE_SCOPE = Permission.APPROVE
_STATE_KEY = "baton_identity"
MISSING = "missing API key (Authorization: Bearer ...)"
INVALID = "invalid or revoked API key"

IdentityOf = Callable[[ServerRequestContext[Any, Any]], Identity]
"""How a server finds the caller of one MCP request."""


class Refused(Exception):
    """The caller may not do this; the message is the reason shown to them."""


def require_scope(who: Identity, scope: str) -> None:
    """Refuse unless the caller holds ``scope`` (rules in :mod:`core.auth.scopes`)."""
    if not has_scope(who, scope):
        raise Refused(missing_scope_reason(scope))


def fixed_identity(who: Identity) -> IdentityOf:
    """Every request is this caller's (a stdio process authenticated once at start)."""
    return lambda _ctx: who


def identity_from_http(ctx: ServerRequestContext[Any, Any]) -> Identity:
    """The caller :class:`BearerKeyGate` authenticated for this HTTP request."""
    request = ctx.request
    who = request.scope.get("state", {}).get(_STATE_KEY) if request is not None else None
    if not isinstance(who, Identity):
        # Only reachable if the gate was bypassed: refuse rather than guess a tenant.
        raise Refused(MISSING)
    return who


class BearerKeyGate:
    """ASGI wrapper: authenticate the Bearer API key, answer 401 without one.

    The identity rides on the request scope for the handlers; the SDK's own user slot gets the
    principal too, so a streamable HTTP session stays bound to the user who opened it.
    """

    def __init__(self, app: ASGIApp, engine: Callable[[], Engine]) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            await _unauthorized(send, MISSING)
            return
        who = await anyio.to_thread.run_sync(verify_key, self.engine(), key.strip())
        if who is None:
            await _unauthorized(send, INVALID)
            return
        scope.setdefault("state", {})[_STATE_KEY] = who
        scope["user"] = AuthenticatedUser(
            AccessToken(
                token=f"{who.tenant_id}/{who.user_id}",
                client_id=f"{who.tenant_id}/{who.user_id}",
                scopes=sorted(who.scopes) if who.scopes is not None else [],
            )
        )
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, reason: str) -> None:
    body = json.dumps({"error": "unauthorized", "detail": reason}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
