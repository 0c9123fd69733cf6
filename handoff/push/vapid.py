"""VAPID keys (RFC 8292): the server's identity towards Web Push services."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from core.config import Settings
from handoff.config import HandoffSettings


def vapid_key_path(settings: Settings, handoff_settings: HandoffSettings) -> Path:
    """BATON_VAPID_PRIVATE_KEY_FILE, else <data_dir>/vapid_private.pem."""
    configured = handoff_settings.vapid_private_key_file
    return configured or Path(settings.data_dir) / "vapid_private.pem"


def create_vapid_key(path: Path, force: bool = False) -> str:
    """Write a new P-256 private key (PEM, mode 0600); returns the public applicationServerKey.

    An existing key is kept unless ``force``: replacing it invalidates every browser
    subscription made with the old public key.
    """
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to replace it (breaks subscriptions)")
    key = Vapid()
    key.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_pem())
    os.replace(tmp, path)
    return application_server_key(key)


def load_vapid_key(path: Path) -> Vapid:
    """The VAPID key in ``path``; FileNotFoundError says how to create one."""
    if not path.is_file():
        raise FileNotFoundError(f"no VAPID key at {path}; create one with `baton keys vapid`")
    return Vapid.from_file(str(path))


def application_server_key(key: Vapid) -> str:
    """The public key as browsers want it for pushManager.subscribe (base64url, raw point)."""
    raw = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
