"""How a webhook request is signed, and how a receiver checks it.

Every request carries three headers besides the JSON body:

- ``Baton-Delivery-Id`` (also sent as ``Idempotency-Key``): the same on every attempt of one
  delivery, so a receiver that stores the ids it has handled processes each event once even
  when Baton sends it again (after a timeout, or a crash between sending and recording).
- ``Baton-Timestamp``: Unix time in whole seconds when this attempt was signed.
- ``Baton-Signature``: ``v1=<hex>``, where ``<hex>`` is the HMAC-SHA256, keyed with the
  subscription's secret (the whole ``whsec_...`` text, UTF-8), of the bytes
  ``<timestamp>.<body>``: the timestamp header, a full stop, then the raw request body.

A receiver recomputes the HMAC over the raw body it received (before parsing it), compares it
in constant time, and refuses timestamps too far from its clock so a captured request cannot be
replayed later. The ``v1=`` prefix names the scheme; a header may list several comma-separated
signatures (during a future key or scheme change) and one valid ``v1`` is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SCHEME = "v1"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    """A fresh signing secret (256 random bits), shown to the subscriber once."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the ``Baton-Signature`` header."""
    return f"{SCHEME}={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    timestamp_header: str,
    signature_header_value: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a received request was signed with ``secret`` within ``tolerance_s`` of now."""
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    for part in signature_header_value.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == SCHEME and hmac.compare_digest(value, expected):
            return True
    return False
