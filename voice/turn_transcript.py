"""One transcript for a whole turn, not one per speech segment.

The VAD ends a segment at every pause of a fifth of a second, so a caller who says "Sure,
sorry, I mean no." with two small pauses reaches Whisper as three clips. Decoded alone, a
clip of two or three words has no context: "I mean no" came back as "Let me know", "buy
milk and eggs" as "by no can egg". Decoded together, the same words come back right far
more often (on rendered phone speech split at its pauses: 8.5 % word errors against 13.5 %).
So each segment after the first of a turn is decoded together with the turn's earlier
segments; the words past what was already heard are the segment's own transcript, and the
whole reading replaces the turn's earlier pieces.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, field

# A turn's audio past this is decoded segment by segment again: Whisper reads at most 30 s.
MAX_TURN_SECS = 25.0
# Words heard before a turn opened belong to it only when they came just before it: the
# start of an interruption ("Stop, ... that's enough", its pause and the barge-in's length
# counted) or a short answer said over the question. Older ones were a murmur over the bot,
# a backchannel that is no part of the caller's next turn.
JOINS_TURN_SECS = 2.0
_PLAIN = re.compile(r"[^a-z0-9']")


def _plain(words: list[str]) -> list[str]:
    return [_PLAIN.sub("", w.lower()) for w in words]


def words_after(heard: str, whole: str) -> str | None:
    """The words of ``whole`` past the part that restates ``heard``, or None when ``whole``
    does not end its restatement of ``heard`` somewhere (it read the earlier audio too
    differently to tell where the new words start).

    "Sure. Sorry, I" then "Sure, sorry, I mean no." gives "mean no.".
    """
    before = [w for w in _plain(heard.split()) if w]
    words = whole.split()
    if not before:
        return whole.strip()
    plain = _plain(words)
    matcher = difflib.SequenceMatcher(a=before, b=plain, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return None
    last = blocks[-1]
    # The restatement must reach the last or next-to-last word heard; the word at a cut is
    # the one most often read differently with more context ("I" / "I mean").
    if last.a + last.size < len(before) - 1:
        return None
    return " ".join(words[last.b + last.size :])


@dataclass
class TurnAudio:
    """The speech segments of the caller's open turn, as 16-bit PCM, and what was heard."""

    segments: list[bytes] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    open: bool = False
    added_at: float = 0.0
    """When the latest segment was kept (monotonic seconds)."""

    def context_for(self, segment: bytes, sample_rate: int) -> bytes | None:
        """The audio to decode for ``segment``: the turn so far and the segment, or None
        when the segment is decoded alone (first of a turn, no turn open, too long)."""
        if not self.open or not self.segments:
            return None
        joined = b"".join([*self.segments, segment])
        if len(joined) / (2 * sample_rate) > MAX_TURN_SECS:
            return None
        return joined

    def add(self, segment: bytes, text: str, at: float | None = None) -> None:
        """Keep a decoded segment (decoded at ``at``, by default now). Outside a turn (words
        over the bot that may never start one) it stands alone."""
        if not self.open:
            self.segments.clear()
            self.heard.clear()
        self.added_at = time.monotonic() if at is None else at
        self.segments.append(segment)
        if text.strip():
            self.heard.append(text.strip())

    def replace_heard(self, whole: str) -> int:
        """Record ``whole`` as the reading of every segment so far; returns how many
        transcripts it replaces."""
        count = len(self.heard)
        self.heard = [whole.strip()] if whole.strip() else []
        return count

    def start(self, at: float | None = None) -> None:
        """The caller's turn began (at ``at``, by default now); words heard well before it
        are left out of it."""
        now = time.monotonic() if at is None else at
        if not self.open and now - self.added_at > JOINS_TURN_SECS:
            self.segments.clear()
            self.heard.clear()
        self.open = True

    def end(self) -> None:
        """The caller's turn ended: the next segment starts afresh."""
        self.open = False
        self.segments.clear()
        self.heard.clear()
