"""Identifiers and time, in one place so that every row uses the same forms."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any


def new_id(prefix: str) -> str:
    """A random, URL-safe identifier such as ``run_3f9a...`` (128 bits of entropy)."""
    return f"{prefix}_{secrets.token_hex(16)}"


def utcnow() -> datetime:
    """Current time, timezone-aware UTC (the form SQLModel's datetime columns require)."""
    return datetime.now(UTC)


def canonical_json(value: Any) -> str:
    """Stable JSON text (sorted keys, no spaces) for hashing and comparing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_json(value: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
