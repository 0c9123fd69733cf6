"""General mechanisms of the parser, beyond any one phrasing: it never guesses a side effect it
is unsure of, reads slots wherever they are said, and tells nouns from verbs and names from the
words after them. Now is Monday 30 November 2026, 09:00."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bench.understanding_score import load_contacts, load_corpus
from core.understanding.command import Intent, ParseContext
from core.understanding.parser import CONFIDENT, parse
from tests.understanding.test_corpus import ALLOWED_SLOTS, REFERENCE_DAY, SLOTLESS

CTX = ParseContext(
    now=datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/New_York")),
    contact_names=["Alice Smith", "Bob Jones", "Carol Diaz", "Karl Becker", "Zoe Chen", "Priya"],
)
RISKY = {
    Intent.CALENDAR_BOOK,
    Intent.CALENDAR_CANCEL,
    Intent.CALENDAR_MOVE,
    Intent.EMAIL_SEND,
    Intent.MEMORY_FORGET,
}


@pytest.mark.parametrize(
    "text",
    [
        "I might have to cancel the dentist, not sure yet",
        "I was thinking about maybe moving the meeting with Bob",
        "did I already cancel the dentist",
        "Carol wants to move the meeting",
        "my boss wants me to reschedule the review",
        "I wonder if Bob will cancel the meeting",
        "should I move my dentist appointment",
        "I think I'll cancel the meeting later",
        "Karl might cancel the sync",
    ],
)
def test_an_unsure_side_effect_is_never_returned_as_the_intent(text: str) -> None:
    command = parse(text, CTX)
    assert command.intent not in RISKY, command
    assert command.confidence < CONFIDENT, command


@pytest.mark.parametrize(
    "text",
    [
        "cancel my 3 pm and book a call with Karl instead",
        "don't book anything on Friday",
        "no need to move the standup",
    ],
)
def test_two_actions_at_once_or_a_forbidden_one_are_not_acted_on(text: str) -> None:
    command = parse(text, CTX)
    assert command.intent is Intent.NOT_UNDERSTOOD, command


@pytest.mark.parametrize(
    ("text", "intent", "body"),
    [
        (
            "email Bob saying please cancel the meeting on Friday",
            Intent.EMAIL_SEND,
            "please cancel the meeting on Friday",
        ),
        (
            "send an email to Carol saying can we move lunch to Thursday",
            Intent.EMAIL_SEND,
            "can we move lunch to Thursday",
        ),
        ("take a note that I need to cancel the dentist", Intent.NOTES_SAVE, None),
    ],
)
def test_a_command_inside_dictated_words_is_part_of_the_message(
    text: str, intent: Intent, body: str | None
) -> None:
    command = parse(text, CTX)
    assert command.intent is intent, command
    if body is not None:
        assert command.slots.text == body


def test_a_request_started_over_keeps_the_second_one() -> None:
    command = parse("book a table... I mean book a meeting with Bob for 2 tomorrow", CTX)
    assert command.intent is Intent.CALENDAR_BOOK
    assert (command.slots.date, command.slots.time) == ("2026-12-01", "14:00")


def test_a_message_on_another_app_is_not_an_email() -> None:
    assert parse("message Karl on Slack", CTX).intent is Intent.OUT_OF_SCOPE


def test_not_remembering_is_no_request_to_remember() -> None:
    command = parse("I can't remember if I have a meeting tomorrow", CTX)
    assert (command.intent, command.slots.date) == (Intent.CALENDAR_LIST, "2026-12-01")


def test_abstaining_keeps_what_was_said_for_the_model() -> None:
    command = parse("I might have to cancel lunch tomorrow", CTX)
    assert command.intent is Intent.NOT_UNDERSTOOD
    assert (command.slots.date, command.slots.text) == (
        "2026-12-01",
        "I might have to cancel lunch tomorrow",
    )


def test_a_question_about_the_calendar_does_not_book() -> None:
    command = parse("do i have meetings wednesday", CTX)
    assert (command.intent, command.slots.date) == (Intent.CALENDAR_LIST, "2026-12-02")
    room = parse("see if there's room for a meeting with Karl next week", CTX)
    assert (room.intent, room.slots.attendees) == (Intent.CALENDAR_FREE, ["Karl"])


def test_an_email_without_a_recipient_invents_none() -> None:
    command = parse("send an email saying the deck is done", CTX)
    assert command.intent is Intent.EMAIL_SEND
    assert command.slots.attendees == []
    assert command.slots.text == "the deck is done"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("start writing an email to Carol Diaz", Intent.EMAIL_DRAFT),
        ("nah forget it", Intent.CANCEL_TASK),
        ("forget about it", Intent.CANCEL_TASK),
        ("stop remembering my coffee order", Intent.MEMORY_FORGET),
    ],
)
def test_a_noun_or_an_opener_is_not_read_as_the_command(text: str, intent: Intent) -> None:
    assert parse(text, CTX).intent is intent


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        (
            "tomorrow at nine, book a meeting with Zoe",
            Intent.CALENDAR_BOOK,
            {"date": "2026-12-01", "time": "09:00", "attendees": ["Zoe"]},
        ),
        (
            "To Bob, send an email about the schedule change",
            Intent.EMAIL_SEND,
            {"attendees": ["Bob"], "subject": "the schedule change"},
        ),
        (
            "lunch with karl tomorrow at 12 30 please schedule it",
            Intent.CALENDAR_BOOK,
            {"date": "2026-12-01", "time": "12:30", "attendees": ["Karl"], "title": "lunch"},
        ),
        (
            "I need the meeting with Priya on Wednesday cancelled",
            Intent.CALENDAR_CANCEL,
            {"date": "2026-12-02", "attendees": ["Priya"]},
        ),
        (
            "can the sync with Zoe be moved to eleven",
            Intent.CALENDAR_MOVE,
            {"new_time": "11:00", "attendees": ["Zoe"], "title": "sync"},
        ),
    ],
)
def test_slots_are_read_in_any_order(text: str, intent: Intent, slots: dict[str, object]) -> None:
    command = parse(text, CTX)
    assert command.intent is intent, command
    assert command.confidence >= CONFIDENT, command
    got = command.slots.model_dump(mode="json")
    for name, value in slots.items():
        assert got[name] == value, (name, command)


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("what's on 12/9", {"date": "2026-12-09"}),
        ("what do I have next week on Wednesday", {"date": "2026-12-09", "date_to": None}),
        ("what's on next weekend", {"date": "2026-12-12", "date_to": "2026-12-13"}),
        ("what's on my calendar for the rest of the day", {"date": "2026-11-30"}),
        ("how's my week looking", {"date": "2026-11-30", "date_to": "2026-12-06"}),
        ("read me tomorrows meetings", {"date": "2026-12-01"}),
        ("what's on my calendar a week from friday", {"date": "2026-12-11"}),
        ("what do I have a week from today", {"date": "2026-12-07"}),
    ],
)
def test_days_said_many_ways(text: str, slots: dict[str, object]) -> None:
    command = parse(text, CTX)
    assert command.intent is Intent.CALENDAR_LIST, command
    got = command.slots.model_dump(mode="json")
    for name, value in slots.items():
        assert got[name] == value, (name, command)


def test_a_length_with_a_half_is_not_half_an_hour() -> None:
    command = parse("set up a two and a half hour workshop on thursday at 9", CTX)
    assert (command.slots.duration_minutes, command.slots.title) == (150, "workshop")


def test_one_word_after_a_longer_lead_in_is_not_a_conversational_command() -> None:
    assert parse("Bob is late again", CTX).intent is Intent.NOT_UNDERSTOOD
    assert parse("no stop", CTX).intent is Intent.CANCEL_TASK


def test_a_clock_time_names_the_meeting_it_stands_for() -> None:
    moved = parse("move my 9 30 to 10 30", CTX)
    assert (moved.slots.time, moved.slots.new_time) == ("09:30", "10:30")
    booked = parse("schedule a two thirty meeting with Karl tomorrow", CTX)
    assert (booked.slots.date, booked.slots.time) == ("2026-12-01", "14:30")


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        (
            "let's do the sync with Priya at 4 instead of 3",
            {"time": "15:00", "new_time": "16:00", "attendees": ["Priya"]},
        ),
        (
            "can the coffee with Carol happen on Thursday instead",
            {"date": None, "new_date": "2026-12-03", "title": "coffee"},
        ),
        ("make the review with Karl an hour later at 11", {"new_time": "11:00"}),
    ],
)
def test_a_move_said_without_move_to(text: str, slots: dict[str, object]) -> None:
    command = parse(text, CTX)
    assert command.intent is Intent.CALENDAR_MOVE, command
    got = command.slots.model_dump(mode="json")
    for name, value in slots.items():
        assert got[name] == value, (name, command)


def test_a_free_time_question_finds_the_contacts_it_names() -> None:
    command = parse("when's the next time Zoe and I are both free", CTX)
    assert (command.intent, command.slots.attendees) == (Intent.CALENDAR_FREE, ["Zoe"])


def test_a_name_ends_where_the_contact_name_ends() -> None:
    command = parse("grab coffee with Zoe tomorrow at 10 put it in the calendar", CTX)
    assert command.intent is Intent.CALENDAR_BOOK
    assert (command.slots.attendees, command.slots.title) == (["Zoe"], "coffee")


@pytest.mark.parametrize(
    ("text", "attendees"),
    [
        ("do Karl and I have any overlap on Tuesday", ["Karl"]),
        ("are both Priya and I free at ten tomorrow", ["Priya"]),
        ("is Carol free at eleven thirty on Thursday", ["Carol"]),
    ],
)
def test_the_others_in_a_free_time_question(text: str, attendees: list[str]) -> None:
    command = parse(text, CTX)
    assert (command.intent, command.slots.attendees) == (Intent.CALENDAR_FREE, attendees)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("make an appointment for a haircut saturday at ten", "haircut"),
        ("cancel my appointment with the dentist", "dentist"),
        ("take the standup off my calendar for friday", "standup"),
        ("can you get rid of the lunch with Karl on Wednesday", "lunch"),
    ],
)
def test_what_a_meeting_is_for(text: str, title: str) -> None:
    assert parse(text, CTX).slots.title == title


def test_how_an_email_goes_is_not_what_it_says() -> None:
    command = parse("Let Priya know by email that the report is ready", CTX)
    assert (command.slots.attendees, command.slots.text) == (["Priya"], "the report is ready")
    draft = parse("write to Carol about the budget but let me check it first", CTX)
    assert (draft.intent, draft.slots.subject) == (Intent.EMAIL_DRAFT, "the budget")


def test_the_dev_split_is_labelled_like_the_corpus() -> None:
    dev = load_corpus(files=["dev.jsonl"])
    names = load_contacts()
    known = {n.casefold() for n in names} | {n.split()[0].casefold() for n in names}
    assert len(dev) >= 200 and {u.split for u in dev} == {"dev"}
    assert len({u.id for u in dev}) == len(dev)
    assert {u.intent for u in dev} == set(Intent)
    for u in dev:
        allowed = set() if u.intent in SLOTLESS else ALLOWED_SLOTS[u.intent]
        assert u.labelled_slots() <= allowed, u.id
        for day in (u.slots.date, u.slots.date_to, u.slots.new_date):
            assert day is None or day >= REFERENCE_DAY.isoformat(), u.id
        assert all(p.casefold() in known for p in u.slots.attendees), u.id
