"""Conversation history within a token budget: recent turns verbatim, older ones summarised.

The summary is extractive (each older turn shortened to its first sentence) so that it is
cheap, deterministic and replayable: the same checkpoint always gives the same pack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.context.tokens import TokenCounter
from models.contract import Message

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_SUMMARY_WORDS = 25
# A single tool result may not take more than this share of the history budget.
_MAX_SHARE_ONE_MESSAGE = 0.5


@dataclass
class FittedHistory:
    """The messages that go into the pack and the references they came from."""

    messages: list[Message] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    tokens: int = 0
    summarised: int = 0


def _gist(message: dict[str, Any]) -> str:
    text = " ".join(str(message.get("content", "")).split())
    first = _SENTENCE.split(text, maxsplit=1)[0] if text else ""
    words = first.split()
    if len(words) > _SUMMARY_WORDS:
        first = " ".join(words[:_SUMMARY_WORDS]) + "…"
    who = message.get("name") or message.get("role", "user")
    return f"- {who}: {first}"


def fit_history(raw: list[dict[str, Any]], budget: int, counter: TokenCounter) -> FittedHistory:
    """Keep the newest messages verbatim while they fit; summarise the older ones.

    The newest message is always kept (cut if it alone is over budget); the summary takes
    what is left, dropping its oldest lines first.
    """
    out = FittedHistory()
    if not raw or budget <= 0:
        return out
    kept: list[tuple[int, Message]] = []
    used = 0
    per_message_cap = max(int(budget * _MAX_SHARE_ONE_MESSAGE), 1)
    first_older = -1
    for i in range(len(raw) - 1, -1, -1):
        m = raw[i]
        content = str(m.get("content", ""))
        cap = budget - used if not kept else min(per_message_cap, budget - used)
        if counter.count(content) + 4 > cap:
            if kept:
                first_older = i
                break
            content = counter.truncate(content, max(cap - 4, 1))
        msg = Message(role=m.get("role", "user"), content=content, name=m.get("name"))
        cost = counter.count(content) + 4
        kept.append((i, msg))
        used += cost
    kept.reverse()
    if first_older >= 0:
        lines = [_gist(m) for m in raw[: first_older + 1]]
        header = "Earlier in this conversation (summarised):"
        room = budget - used
        while lines and counter.count("\n".join([header, *lines])) + 4 > room:
            lines.pop(0)
        if lines:
            summary = "\n".join([header, *lines])
            out.messages.append(Message(role="system", content=summary))
            out.refs.append(f"summary:{first_older + 1 - len(lines)}-{first_older}")
            used += counter.count(summary) + 4
        out.summarised = first_older + 1
    out.messages.extend(m for _, m in kept)
    out.refs.extend(f"message:{i}" for i, _ in kept)
    out.tokens = used
    return out
