"""Biasing Whisper toward what callers say to Baton: command words and their contacts' names.

faster-whisper conditions its decoder on an ``initial_prompt`` (text it takes as what was said
just before) or on ``hotwords``; both make rare names ("Siobhan", "Dmitri") and the command
vocabulary likelier without another model. ``BATON_WHISPER_BIAS`` picks the form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BIAS_MODES = ("off", "prompt", "hotwords")
# A word list, not sentences: Whisper reads a prompt as what was said just before, and given
# whole commands it repeated them over what the caller said. Times as Whisper should write them.
COMMAND_PROMPT = (
    "Calendar, meeting, schedule, book, reschedule, cancel, email, draft, note, remember, "
    "forget, 10 am, 2:30 pm."
)
COMMAND_HOTWORDS = "calendar meeting book reschedule cancel email draft note remember forget"
# Whisper keeps at most 223 prompt tokens; names past this many are dropped, in the order given.
MAX_NAMES = 40


@dataclass(frozen=True)
class WhisperBias:
    """What faster-whisper's ``transcribe`` gets as ``initial_prompt`` and ``hotwords``."""

    initial_prompt: str | None = None
    hotwords: str | None = None


def _names(contact_names: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in contact_names:
        cleaned = " ".join(name.split())
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)[:MAX_NAMES]


def whisper_bias(mode: str, contact_names: Sequence[str] = ()) -> WhisperBias:
    """The biasing of one call: ``off``, ``prompt`` (initial prompt) or ``hotwords``.

    Raises ValueError for an unknown mode.
    """
    if mode not in BIAS_MODES:
        raise ValueError(f"BATON_WHISPER_BIAS={mode!r}: use one of {', '.join(BIAS_MODES)}")
    names = _names(contact_names)
    if mode == "prompt":
        people = f" Contacts: {', '.join(names)}." if names else ""
        return WhisperBias(initial_prompt=COMMAND_PROMPT + people)
    if mode == "hotwords":
        return WhisperBias(hotwords=" ".join([COMMAND_HOTWORDS, *names]))
    return WhisperBias()
