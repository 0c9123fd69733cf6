"""Signed, expiring tokens for deep links and web-view sessions (HMAC-SHA256).

A pushed notification carries a link with one of these tokens instead of any credential: it
names the tenant, user and run it opens, a purpose, and an expiry, and it is only as good as
the server secret. Purposes keep a session cookie from being replayed as a link and back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.config import Settings
from handoff.config import HandoffSettings

LINK = "link"
SESSION = "session"


class BadToken(Exception):
    """A token that is malformed, tampered with, expired or meant for something else."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def server_secret(settings: Settings, handoff_settings: HandoffSettings) -> bytes:
    """BATON_HANDOFF_SECRET, else a random key kept in <data_dir>/handoff.key (created once)."""
    return load_secret(handoff_settings.handoff_secret, Path(settings.data_dir))


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, or the one in ``data_dir/handoff.key`` (created on first use)."""
    if configured:
        return configured.encode("utf-8")
    path = data_dir / "handoff.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; read theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode("utf-8")


class _Payload(BaseModel):
    """A token's signed body, as :meth:`Signer.issue` writes it."""

    p: str
    t: str
    u: str
    e: int
    r: list[str] | None = None
    x: dict[str, Any] = {}


@dataclass(frozen=True)
class Claims:
    """What a valid token grants."""

    purpose: str
    tenant_id: str
    user_id: str
    expires_at: int
    # Run ids the bearer may open; None means every run of the user (an API-key sign-in).
    runs: tuple[str, ...] | None
    extra: dict[str, Any]

    def allows_run(self, run_id: str) -> bool:
        """True when this token may see ``run_id``."""
        return self.runs is None or run_id in self.runs


class Signer:
    """Issues and checks tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the handoff secret must be at least 16 bytes")
        self._secret = secret

    def _mac(self, body: str) -> bytes:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest()).encode()

    def issue(
        self,
        purpose: str,
        tenant_id: str,
        user_id: str,
        ttl_seconds: int,
        runs: list[str] | tuple[str, ...] | None = None,
        extra: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """A token valid for ``ttl_seconds`` from ``now``."""
        payload = {
            "p": purpose,
            "t": tenant_id,
            "u": user_id,
            "e": int((now if now is not None else time.time()) + ttl_seconds),
            "r": list(runs) if runs is not None else None,
            "n": secrets.token_hex(4),
            "x": extra or {},
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._mac(body).decode()}"

    def verify(self, token: str, purpose: str, now: float | None = None) -> Claims:
        """The token's claims; BadToken with the reason when it must be refused.

        Whatever arrives (any characters, any length, a well-signed but odd payload) either
        yields claims or raises BadToken, never another exception.
        """
        if (
            not token
            or len(token) > 8192
            or not token.isascii()
            or not token.isprintable()
            or token.count(".") != 1
        ):
            raise BadToken("the link is malformed")
        body, mac = token.split(".")
        if not hmac.compare_digest(mac.encode("ascii"), self._mac(body)):
            raise BadToken("the link's signature does not match (it was changed or is not ours)")
        try:
            payload = _Payload.model_validate_json(_unb64(body))
        except ValueError as exc:  # bad base64, JSON or fields (ValidationError is one)
            raise BadToken("the link is malformed") from exc
        if payload.p != purpose:
            raise BadToken("this token cannot be used here")
        if payload.e < (now if now is not None else time.time()):
            raise BadToken("the link has expired; open the latest notification or sign in")
        return Claims(
            purpose=purpose,
            tenant_id=payload.t,
            user_id=payload.u,
            expires_at=payload.e,
            runs=tuple(payload.r) if payload.r is not None else None,
            extra=payload.x,
        )


def signer_for(settings: Settings, handoff_settings: HandoffSettings) -> Signer:
    """The signer of this process."""
    return Signer(server_secret(settings, handoff_settings))
