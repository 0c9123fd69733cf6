"""What may be remembered, for how long, for whom, and what needs the user's yes first.

These rules are the "apply policy" and "set scope and expiration" steps of the write
pipeline (blueprint 4.8). They are deliberately plain so that a person can read why a memory
was stored, held for confirmation or refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.config import Settings

# How much a memory of each type matters when ranking, before the user pins it.
IMPORTANCE = {
    "procedure": 0.8,
    "preference": 0.7,
    "relationship": 0.6,
    "fact": 0.5,
    "episode": 0.3,
}

# Credentials and payment data never enter memory (secrets are kept apart from context).
_SECRETS = [
    re.compile(
        r"\b(password|passcode|passwd|pin code|api[ _-]?key|secret key|token)\b\s*"
        r"(is|=|:)",
        re.I,
    ),
    re.compile(r"\b(sk|pk|ghp|xox[abp])[-_][A-Za-z0-9_-]{12,}"),
    re.compile(r"\b(?:\d[ -]?){13,19}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]

# A person asking in so many words to be remembered has already given consent.
_EXPLICIT = re.compile(
    r"\b(remember|don'?t forget|do not forget|keep in mind|make a note|note that|"
    r"from now on)\b",
    re.I,
)


class ProposalRejected(Exception):
    """The proposal breaks a rule; nothing is stored and the reason is recorded."""


@dataclass(frozen=True)
class Placement:
    """Where a memory lives and who may read it."""

    scope: str
    scope_ref: str
    subject: str


def check_content(content: str, settings: Settings) -> str:
    """The cleaned content, or ProposalRejected when it must not be stored."""
    clean = " ".join((content or "").split())
    if not clean:
        raise ProposalRejected("empty content")
    if len(clean) > settings.memory_max_chars:
        raise ProposalRejected(
            f"content is {len(clean)} characters; the limit is {settings.memory_max_chars}"
        )
    for pattern in _SECRETS:
        if pattern.search(clean):
            raise ProposalRejected("content looks like a credential or payment detail")
    return clean


def check_confidence(confidence: float, settings: Settings) -> float:
    """The confidence, or ProposalRejected when it is too low to act on."""
    if not 0.0 <= confidence <= 1.0:
        raise ProposalRejected(f"confidence {confidence} is outside 0..1")
    if confidence < settings.memory_min_confidence:
        raise ProposalRejected(
            f"confidence {confidence:.2f} is below {settings.memory_min_confidence:.2f}"
        )
    return confidence


def place(
    requested_scope: str | None, subject: str | None, tenant_id: str, user_id: str, run_id: str
) -> Placement:
    """Scope, scope reference and subject of a proposal.

    A proposal is about the person by default (scope ``user``, subject ``user:<id>``);
    ``task`` keeps it inside the run, ``team:<name>`` and ``tenant`` share it.
    """
    scope_text = (requested_scope or "user").strip().lower()
    if scope_text == "user":
        placement = ("user", user_id)
    elif scope_text == "task":
        placement = ("task", run_id)
    elif scope_text == "tenant":
        placement = ("tenant", tenant_id)
    elif scope_text.startswith("team:") and len(scope_text) > 5:
        placement = ("team", scope_text[5:][:80])
    else:
        raise ProposalRejected(f"unknown scope {requested_scope!r}")
    subj = " ".join((subject or "").split()).lower()[:200] or f"user:{user_id}"
    return Placement(scope=placement[0], scope_ref=placement[1], subject=subj)


def needs_confirmation(
    memory_type: str,
    scope: str,
    requested: bool,
    source_text: str,
    settings: Settings,
) -> bool:
    """True when the user must say yes before the memory is used.

    Types that change future behaviour (``BATON_MEMORY_CONFIRM_TYPES``) need it unless the
    person explicitly asked to be remembered in the message the proposal came from; shared
    scopes always need it, since they change what other people's assistants do.
    """
    if requested or scope in ("team", "tenant"):
        return True
    confirm = {t.strip() for t in settings.memory_confirm_types.split(",") if t.strip()}
    if memory_type not in confirm:
        return False
    return not _EXPLICIT.search(source_text or "")


def expiry(memory_type: str, scope: str, now: datetime, settings: Settings) -> datetime | None:
    """When a new memory lapses: episodes and task memories fade, the rest stays."""
    if scope == "task":
        return now + timedelta(days=settings.memory_task_ttl_days)
    if memory_type == "episode":
        return now + timedelta(days=settings.memory_episode_ttl_days)
    return None
