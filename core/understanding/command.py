"""The structured command a turn's text becomes: an intent, typed slots and a confidence.

This is the contract between the parser, the command agent, the corpus and the benchmark.
Slots hold values already normalised (ISO dates and times, minutes, names as spoken);
what they resolve to (contact addresses, event ids) is recorded separately.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Intent(StrEnum):
    """Everything the command layer can recognise."""

    CALENDAR_LIST = "calendar_list"
    CALENDAR_FREE = "calendar_free"
    CALENDAR_BOOK = "calendar_book"
    CALENDAR_CANCEL = "calendar_cancel"
    CALENDAR_MOVE = "calendar_move"
    EMAIL_DRAFT = "email_draft"
    EMAIL_SEND = "email_send"
    NOTES_SAVE = "notes_save"
    NOTES_SEARCH = "notes_search"
    MEMORY_REMEMBER = "memory_remember"
    MEMORY_FORGET = "memory_forget"
    MEMORY_LIST = "memory_list"
    HELP = "help"
    CANCEL_TASK = "cancel_task"
    REPEAT = "repeat"
    OUT_OF_SCOPE = "out_of_scope"
    # Nothing usable was heard (empty, noise, gibberish): "Sorry, I didn't catch that."
    NOT_UNDERSTOOD = "not_understood"


class PartOfDay(StrEnum):
    """A part of the day a person names instead of a time."""

    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


class Slots(BaseModel):
    """Normalised slots; a slot the person did not say stays None (or empty).

    Dates are ISO ``YYYY-MM-DD`` and times ``HH:MM`` (24 h) in the user's time zone,
    resolved against the date of the call. ``date``/``time`` name the meeting or day asked
    about; ``new_date``/``new_time`` are where a meeting moves to. ``date_to`` closes a range
    ("this week": ``date`` is its first day, ``date_to`` its last).
    """

    model_config = ConfigDict(extra="forbid")

    date: str | None = None
    date_to: str | None = None
    time: str | None = None
    new_date: str | None = None
    new_time: str | None = None
    duration_minutes: int | None = None
    part_of_day: PartOfDay | None = None
    # People as the person named them ("Alice", "Bob Jones"), in the order said.
    attendees: list[str] = Field(default_factory=list)
    # Meeting title, or words that describe an existing meeting ("standup").
    title: str | None = None
    # Email subject and body; note and memory text; a search query; what to forget.
    subject: str | None = None
    text: str | None = None


class Command(BaseModel):
    """What one turn asked for."""

    intent: Intent
    slots: Slots = Field(default_factory=Slots)
    confidence: float = Field(ge=0.0, le=1.0)


class ParseContext(BaseModel):
    """What the parser resolves against: the call's local time and the caller's contacts."""

    now: datetime  # aware, in the user's time zone
    contact_names: list[str] = Field(default_factory=list)
