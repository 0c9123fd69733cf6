"""Redaction for the optional prompt debug log: never keys, addresses or long numbers."""

from __future__ import annotations

import re
from typing import Any

_PATTERNS = [
    (re.compile(r"\b(?:sk|pk|rk|key|tok)[-_][A-Za-z0-9_\-]{8,}\b"), "<secret>"),
    (re.compile(r"\b[A-Za-z0-9_\-]{32,}\b"), "<secret>"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
    (re.compile(r"\+?\d[\d \-().]{6,}\d"), "<number>"),
]
MAX_CHARS = 2000


def redact(text: str) -> str:
    """``text`` with secrets, e-mail addresses and phone-like numbers masked, truncated."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + f"... (+{len(text) - MAX_CHARS})"


def redact_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Chat messages with each content redacted."""
    return [
        {"role": str(m.get("role")), "content": redact(str(m.get("content", "")))} for m in messages
    ]
