"""The words that name a meeting, kept in one place for every rule that looks for one.

A *kind* says what a meeting is ("lunch", "standup", "physio"): said with a day or a time it
names one meeting, and it is never a person's name. An *activity* ("yoga", "the gym") is an
entry on the calendar too, but one a person often keeps alone and repeats, so it does not by
itself anchor a change to one meeting. A *generic* noun ("meeting", "call") only says there is
a meeting; it names one only with more words around it.
"""

from __future__ import annotations

import re

# Regex alternatives, one per kind; an optional plural "s" is added where they are used.
_KINDS = (
    "sync",
    "catch ?up",
    "chat",
    "1:1",
    "1 on 1",
    "one on one",
    "one-on-one",
    "lunch",
    "coffee",
    "dinner",
    "breakfast",
    "brunch",
    "drinks",
    "standup",
    "stand-up",
    "review",
    "interview",
    "demo",
    "presentation",
    "workshop",
    "huddle",
    "check-in",
    "check-?up",
    "retro",
    "retrospective",
    "planning",
    "briefing",
    "conference",
    "kick[ -]?off",
    "offsite",
    "webinar",
    "seminar",
    "training",
    "class",
    "lesson",
    "rehearsal",
    "consultation",
    "party",
    "dentist",
    "doctor",
    "physio",
    "haircut",
)
ACTIVITIES = (
    "one-to-one",
    "1-1",
    "meetup",
    "lecture",
    "tutoring",
    "therapy",
    "massage",
    "yoga",
    "pilates",
    "gym",
    "workout",
)
# Generic nouns a meeting may go by in a sentence ("move my 3 o'clock call").
_GENERIC_SAID = ("meeting", "call", "appointment", "appt", "event", "session", "zoom", "block")

KIND = "|".join(_KINDS)
"""Any kind of meeting, as regex alternatives (no plural, no word boundaries)."""

ACTIVITY = "|".join(ACTIVITIES)
"""Any activity, as regex alternatives (no plural, no word boundaries)."""

GENERIC = "|".join((*_GENERIC_SAID, "touch ?base"))
"""A generic meeting noun other than "thing", as regex alternatives (no plural, no word
boundaries): "thing" is a meeting only in some sentences."""

KIND_SAID = re.compile(rf"\b(?:{KIND})\b")
"""A kind of meeting anywhere in a turn."""

GENERIC_HEADS = frozenset(
    [*(w + s for w in (*_GENERIC_SAID, "thing") for s in ("", "s")), "visit", "booking", "time"]
)
"""Head nouns that alone name no meeting: a title made of them only is no title."""

MEETING_NOUNS = GENERIC_HEADS | frozenset(
    w for w in re.findall(r"[a-z]{3,}", KIND) if w not in ("off", "one")
)
"""Single words that say what a meeting is, never who it is with."""
