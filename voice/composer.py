"""The voice response profile, enforced after the model answers rather than asked for in a prompt.

A spoken answer stays within the profile's budget (BATON_VOICE_MAX_SENTENCES and
BATON_VOICE_MAX_WORDS). A longer answer is stored whole as an artifact of the run; the call
says its first part and that the rest went to the phone, and a ``HandoffRequested`` event asks
the handoff surface to deliver it. Replies are split into sentences so TTS can start speaking
the first while the others are still being synthesised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.artifacts.service import create_artifact
from core.config import Settings
from core.profiles import fit_to_profile, profile_for
from core.runs.events import EventType
from core.runs.surface_events import record_run_event
from voice.config import VoiceSettings
from voice.session import CallSession

SENT_TO_PHONE = "I've sent the full answer to your phone."
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
# Speech has no use for markup: list bullets, headings, emphasis and links are dropped.
_MARKUP = re.compile(r"(^|\s)(#{1,6}|[-*•]|\d+[.)])\s+|[*_`|]+|\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class SpokenReply:
    """What the call says: sentences in order, and the artifact holding the rest (if any)."""

    sentences: list[str]
    artifact_id: str | None = None

    @property
    def text(self) -> str:
        """The whole spoken text."""
        return " ".join(self.sentences)


def voice_profile(voice_settings: VoiceSettings) -> dict[str, Any]:
    """The voice response profile with this deployment's budget."""
    profile = profile_for("voice")
    profile["max_words"] = voice_settings.voice_max_words
    profile["max_sentences"] = voice_settings.voice_max_sentences
    return profile


def speakable(text: str) -> str:
    """Text as it should be read aloud: markup removed, whitespace collapsed."""
    text = _MARKUP.sub(lambda m: f"{m.group(1) or ''}{m.group(3) or ''}", text or "")
    return " ".join(text.split())


def sentences_of(text: str) -> list[str]:
    """Split speech into sentences (the units handed to TTS one by one)."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


# A chunk shorter than this plays for less time than the next one takes to synthesise on a
# busy machine, leaving a hole in the speech ("Done." ... "The email is on its way.").
MIN_CHUNK_WORDS = 5


def speech_chunks(sentences: list[str], min_words: int = MIN_CHUNK_WORDS) -> list[str]:
    """Sentences grouped into the pieces handed to TTS one after another."""
    chunks: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        current.append(sentence)
        if sum(len(s.split()) for s in current) >= min_words:
            chunks.append(" ".join(current))
            current = []
    if current:
        if chunks and sum(len(s.split()) for s in current) < min_words:
            chunks[-1] = f"{chunks[-1]} {' '.join(current)}"
        else:
            chunks.append(" ".join(current))
    return chunks


def fit_spoken(voice_settings: VoiceSettings, text: str) -> tuple[str, bool]:
    """The part of ``text`` that fits the spoken budget, and whether anything was left out.

    When something is left out, room is kept for the sentence that says where the rest went,
    so the whole spoken reply stays within the budget.
    """
    profile = voice_profile(voice_settings)
    structured = bool(re.search(r"^\s*(\||[-*] |#)", text or "", re.MULTILINE))
    clean = speakable(text)
    fitted = fit_to_profile(profile, clean)
    if not fitted.overflow and not structured:
        return fitted.inline, False
    notice_words = len(SENT_TO_PHONE.split())
    tight = dict(profile)
    tight["max_sentences"] = max(1, int(profile["max_sentences"] or 2) - 1)
    tight["max_words"] = max(5, int(profile["max_words"] or 40) - notice_words)
    return fit_to_profile(tight, clean).inline, True


def compose_reply(
    services_settings: Settings,
    voice_settings: VoiceSettings,
    engine: Any,
    call: CallSession,
    run_id: str,
    text: str,
    *,
    title: str,
) -> SpokenReply:
    """Turn a run's answer into speech within budget; overflow becomes an artifact + handoff.

    Blocking (writes to the store): call it from a thread. Idempotent per run: speaking the
    same answer twice stores one artifact and one handoff request.
    """
    inline, overflow = fit_spoken(voice_settings, text)
    if not overflow:
        return SpokenReply(sentences_of(inline) or ["Done."])
    artifact = create_artifact(
        engine,
        tenant_id=call.tenant_id,
        user_id=call.user_id,
        run_id=run_id,
        name=(title.strip() or "Answer")[:120],
        content_type="text/markdown; charset=utf-8",
        data=text.encode("utf-8"),
        kind="report",
        idempotency_key=f"voice-answer:{run_id}",
        settings=services_settings,
    )
    record_run_event(
        engine,
        call.tenant_id,
        call.user_id,
        run_id,
        EventType.HANDOFF_REQUESTED,
        {
            "reason": "answer_too_long_for_voice",
            "artifact_id": artifact["artifact_id"],
            "channel": "voice",
            "call_id": call.call_id,
        },
        once_key=f"answer:{artifact['artifact_id']}",
    )
    return SpokenReply([*sentences_of(inline), SENT_TO_PHONE], artifact["artifact_id"])
