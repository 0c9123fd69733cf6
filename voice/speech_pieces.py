"""Where a reply is cut for synthesis, so its first audio comes sooner.

Piper synthesises a sentence at a time and nothing of it plays before the whole sentence is
done: a long first sentence ("You have two meetings on Wednesday: standup at 9 and lunch with
Carol at 12:30.") kept the caller waiting about 0.4 s on two cores. Its first clause alone
takes a third of that, and the rest is synthesised while the first clause plays.
"""

from __future__ import annotations

import re

# A clause ends at a comma, semicolon or colon followed by a space ("12:30" is not a clause).
_CLAUSE_END = re.compile(r"[,;:](?=\s)")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
# A first sentence shorter than this is quick to synthesise whole.
MIN_SENTENCE_WORDS = 8
# A clause this short would sound clipped on its own.
MIN_CLAUSE_WORDS = 3


def speech_pieces(text: str) -> list[str]:
    """``text`` as the pieces to synthesise in order: its first clause on its own when the
    first sentence is long, otherwise the whole text."""
    end = _SENTENCE_END.search(text)
    first = text[: end.end()] if end else text
    if len(first.split()) < MIN_SENTENCE_WORDS:
        return [text]
    for clause in _CLAUSE_END.finditer(first):
        head, rest = text[: clause.end()].strip(), text[clause.end() :].strip()
        if len(head.split()) >= MIN_CLAUSE_WORDS and len(first[clause.end() :].split()) >= 2:
            return [head, rest]
    return [text]
