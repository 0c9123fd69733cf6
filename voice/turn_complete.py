"""Whether the words of a pause already make a whole request, so the turn may end at once.

The silence strategy waits a fixed stretch after every pause because a caller may go on.
A pause after a request the command layer reads with confidence, which Whisper closed as a
sentence and which does not end on a word that wants more ("with", "and", "saying"), is
almost always the end: waiting the full stretch there only delays the answer. When the caller
does go on after such a request, the rest arrives as the next turn, which the run's slot
filling takes as the missing detail ("Book a meeting with Alice." / "tomorrow at ten").
Open questions and anything not understood keep the full wait.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from core.understanding.command import Command, Intent, ParseContext
from core.understanding.parser import CONFIDENT, parse
from voice.answers import read_answer

# Intents whose request may be cut short without harm if the caller goes on.
_OPEN_ENDED = frozenset({Intent.NOT_UNDERSTOOD, Intent.OUT_OF_SCOPE})
# What a caller may say instead of answering a yes/no question: a task of its own. "Cancel
# it", "repeat that" or "help" answer or ask about the question, so they are not among them.
_TASKS = frozenset(Intent) - _OPEN_ENDED - {Intent.CANCEL_TASK, Intent.REPEAT, Intent.HELP}
# A sentence ending on one of these words is not finished, whatever Whisper punctuated.
_WANTS_MORE = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "with",
        "to",
        "at",
        "for",
        "on",
        "in",
        "about",
        "saying",
        "that",
        "from",
        "of",
        "my",
        "by",
        "um",
        "uh",
        "so",
        "like",
        "which",
        "who",
    ]
)
_LAST_WORD = re.compile(r"([A-Za-z']+)\W*$")


def _whole_request(text: str, contact_names: Sequence[str]) -> Command | None:
    """``text`` read as a command when it is a whole, confidently read request, else None."""
    said = text.strip()
    if not said or said[-1] not in ".?!":
        return None
    last = _LAST_WORD.search(said)
    if last is not None and last.group(1).lower() in _WANTS_MORE:
        return None
    command = parse(said, ParseContext(now=datetime.now(UTC), contact_names=list(contact_names)))
    if command.intent in _OPEN_ENDED or command.confidence < CONFIDENT:
        return None
    return command


def _anchored(command: Command) -> bool:
    """Whether the command names its own day, people or words, so that a question asking
    it is about something else than the pending action ("What do I have on Friday?"), not
    about it ("What meeting?", "When is it?")."""
    slots = command.slots
    return bool(
        slots.date or slots.date_to or slots.attendees or slots.text or slots.title
        or slots.subject
    )  # fmt: skip


def reads_complete(text: str, contact_names: Sequence[str] = ()) -> bool:
    """Whether ``text`` (all the turn's words so far) is a whole, confidently read request."""
    return _whole_request(text, contact_names) is not None


# What can be looked up and answered while a yes/no question waits, to ask it again after.
_LOOK_UPS = frozenset(
    {Intent.CALENDAR_LIST, Intent.CALENDAR_FREE, Intent.NOTES_SEARCH, Intent.MEMORY_LIST}
)


def reads_look_up(text: str, contact_names: Sequence[str] = ()) -> bool:
    """Whether ``text`` is a whole request to look something up ("What do I have on
    Friday?"): answered before the waiting question is asked again. A task with a side effect
    ("Book the review with Bob?", however Whisper punctuated it) sets the question aside."""
    command = _whole_request(text, contact_names)
    return command is not None and command.intent in _LOOK_UPS


def reads_new_request(text: str, contact_names: Sequence[str] = ()) -> bool:
    """Whether ``text``, said while a yes/no question waits, is a whole new request (a task
    read with confidence) rather than an answer, an unclear answer or a question about it.
    A question counts as a new request only when it names its own day, people or words."""
    reading = read_answer(text)
    if reading.answer != "unclear":
        return False
    command = _whole_request(text, contact_names)
    if command is None or command.intent not in _TASKS:
        return False
    return reading.question is None or _anchored(command)
