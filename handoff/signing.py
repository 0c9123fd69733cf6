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

from core.config import Settings

LINK = "link"
SESSION = "session"


class BadToken(Exception):
    """A token that is malformed, tampered with, expired or meant for something else."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def server_secret(settings: Settings) -> bytes:
    """BATON_HANDOFF_SECRET, else a random key kept in <data_dir>/handoff.key (created once)."""
    return load_secret(settings.handoff_secret, Path(settings.data_dir))


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

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest())

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
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, purpose: str, now: float | None = None) -> Claims:
        """The token's claims; BadToken with the reason when it must be refused."""
        if not token or len(token) > 8192 or token.count(".") != 1:
            raise BadToken("the link is malformed")
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            raise BadToken("the link's signature does not match (it was changed or is not ours)")
        try:
            payload = json.loads(_unb64(body))
        except ValueError as exc:
            raise BadToken("the link is malformed") from exc
        if payload.get("p") != purpose:
            raise BadToken("this token cannot be used here")
        if int(payload.get("e", 0)) < (now if now is not None else time.time()):
            raise BadToken("the link has expired; open the latest notification or sign in")
        runs = payload.get("r")
        return Claims(
            purpose=purpose,
            tenant_id=str(payload["t"]),
            user_id=str(payload["u"]),
            expires_at=int(payload["e"]),
            runs=tuple(runs) if runs is not None else None,
            extra=dict(payload.get("x") or {}),
        )


def signer_for(settings: Settings) -> Signer:
    """The signer of this process."""
    return Signer(server_secret(settings))
