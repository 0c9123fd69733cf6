"""Response profiles: how much, in what shape and through which modalities a channel answers.

A profile is product data, not prompt wording (blueprint 3.2). The profile of the channel a
step runs on is stored with the step and handed to context assembly and the output composer,
so the model, the tools and the composer all see the same constraints. ``fit_to_profile``
is the composer's rule for what stays inline and what becomes an artifact.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput

PROFILE_VERSION = 1

_PROFILES: dict[str, dict[str, Any]] = {
    "voice": {
        "channel": "voice",
        "length": "short",
        "max_sentences": 2,
        "max_words": 40,
        "preferred_style": "direct",
        "allowed_modalities": ["speech"],
        "structure": "prose",
        "interaction": "synchronous",
        "artifact_policy": "summarize_and_offer_link",
        "progress_policy": "brief_status_only",
        "approval_policy": "ask_one_clear_question",
        "fallback": "summarize_and_push_artifact",
    },
    "mobile": {
        "channel": "mobile",
        "length": "short",
        "max_sentences": 4,
        "max_words": 80,
        "preferred_style": "compact",
        "allowed_modalities": ["text", "image", "link"],
        "structure": "status_card",
        "interaction": "notification",
        "artifact_policy": "summary_then_open_view",
        "progress_policy": "status_card",
        "approval_policy": "button",
        "fallback": "link_to_web_view",
    },
    "web": {
        "channel": "web",
        "length": "detailed",
        "max_sentences": None,
        "max_words": 1200,
        "preferred_style": "structured",
        "allowed_modalities": ["text", "table", "image", "chart", "file", "link"],
        "structure": "markdown",
        "interaction": "streaming_progress",
        "artifact_policy": "inline_preview",
        "progress_policy": "timeline",
        "approval_policy": "button",
        "fallback": "download_link",
    },
    "api": {
        "channel": "api",
        "length": "normal",
        "max_sentences": None,
        "max_words": None,
        "preferred_style": "structured",
        "allowed_modalities": ["structured_json", "text", "file"],
        "structure": "schema",
        "interaction": "async_job",
        "artifact_policy": "reference_by_id",
        "progress_policy": "events",
        "approval_policy": "api_state_transition",
        "fallback": "reference_by_id",
    },
    "cli": {
        "channel": "cli",
        "length": "normal",
        "max_sentences": None,
        "max_words": 400,
        "preferred_style": "plain",
        "allowed_modalities": ["text", "table", "file"],
        "structure": "command_output",
        "interaction": "streaming_progress",
        "artifact_policy": "file_path",
        "progress_policy": "status_lines",
        "approval_policy": "cli_prompt",
        "fallback": "file_path",
    },
}
for _p in _PROFILES.values():
    _p["version"] = PROFILE_VERSION

CHANNELS: tuple[str, ...] = tuple(_PROFILES)
# Surfaces that share a profile: a phone or browser call is heard, not read.
_ALIASES = {"phone": "voice", "browser": "voice", "call": "voice", "app": "mobile"}


def profile_for(channel: str) -> dict[str, Any]:
    """The response profile of ``channel`` (a copy: callers may store or change it)."""
    name = (channel or "").strip().lower()
    profile = _PROFILES.get(_ALIASES.get(name, name))
    if profile is None:
        raise InvalidInput(f"unknown channel '{channel}'; known: {', '.join(CHANNELS)}")
    return copy.deepcopy(profile)


@dataclass(frozen=True)
class Fitted:
    """What the composer says on the channel, and whether the full text needs an artifact."""

    inline: str
    overflow: bool


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def fit_to_profile(profile: dict[str, Any], text: str) -> Fitted:
    """Cut ``text`` to the profile's sentence and word budget.

    When anything is cut (or the text carries structure the channel cannot show, such as a
    table on a speech-only channel), ``overflow`` tells the composer to store the full text
    as an artifact and follow the profile's artifact policy.
    """
    original = text or ""
    speech_only = profile["allowed_modalities"] == ["speech"]
    structured = bool(re.search(r"^\s*(\||[-*] |#)", original, re.MULTILINE))
    # Speech has no layout: line breaks and indentation mean nothing when read aloud.
    clean = " ".join(original.split()) if speech_only else original.strip()
    max_sentences = profile.get("max_sentences")
    max_words = profile.get("max_words")
    sentences = [s for s in _SENTENCE_END.split(clean) if s]
    kept = sentences[:max_sentences] if max_sentences else sentences
    inline = " ".join(kept) if max_sentences else clean
    words = inline.split()
    if max_words and len(words) > max_words:
        inline = " ".join(words[:max_words]).rstrip(",;:") + "…"
    overflow = inline != clean or (speech_only and structured)
    return Fitted(inline=inline, overflow=overflow)
