"""Counting tokens: the model's own tokenizer through litellm when it knows the model, an
estimate otherwise (local GGUF models, unknown aliases)."""

from __future__ import annotations

import functools
import json
import math
from typing import Any


def estimate(text: str) -> int:
    """About four characters per token for English, never fewer than one per word."""
    if not text:
        return 0
    return max(math.ceil(len(text) / 4), len(text.split()))


@functools.lru_cache(maxsize=64)
def _litellm_knows(model: str) -> bool:
    from models.llm_client import litellm

    try:
        litellm.get_model_info(model)
    except Exception:
        return False
    return True


class TokenCounter:
    """Counts tokens for one model; ``method`` says which way it counts."""

    def __init__(self, model: str | None = None) -> None:
        self.model = model
        self.method = f"litellm:{model}" if model and _litellm_knows(model) else "estimate"

    def count(self, text: str) -> int:
        """Tokens in ``text``."""
        if not text:
            return 0
        if self.method == "estimate":
            return estimate(text)
        from models.llm_client import litellm

        try:
            return int(litellm.token_counter(model=self.model, text=text))
        except Exception:
            return estimate(text)

    def count_json(self, value: Any) -> int:
        """Tokens of a value as the compact JSON a prompt would carry."""
        return self.count(json.dumps(value, separators=(",", ":"), default=str))

    def truncate(self, text: str, max_tokens: int) -> str:
        """``text`` cut to at most ``max_tokens`` tokens, marked when cut."""
        if max_tokens <= 0:
            return ""
        if self.count(text) <= max_tokens:
            return text
        marker = " …[cut]"
        lo, hi = 0, len(text)
        # Binary search on characters: token counts grow monotonically with the prefix.
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.count(text[:mid] + marker) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo].rstrip() + marker if lo else ""
