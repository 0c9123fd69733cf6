"""The understanding corpus is well formed: labels a parser can be scored against."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, time

import pytest

from bench.understanding_score import (
    CORPUS_DIR,
    Utterance,
    load_contacts,
    load_corpus,
    normalise_text,
)
from core.understanding.command import Intent

REFERENCE_DAY = date(2026, 11, 30)
SLOTLESS = {
    Intent.MEMORY_LIST,
    Intent.HELP,
    Intent.CANCEL_TASK,
    Intent.REPEAT,
    Intent.OUT_OF_SCOPE,
    Intent.NOT_UNDERSTOOD,
}
ALLOWED_SLOTS = {
    Intent.CALENDAR_LIST: {"date", "date_to", "part_of_day"},
    Intent.CALENDAR_FREE: {
        "date",
        "date_to",
        "time",
        "part_of_day",
        "duration_minutes",
        "attendees",
    },
    Intent.CALENDAR_BOOK: {"date", "time", "part_of_day", "duration_minutes", "attendees", "title"},
    Intent.CALENDAR_CANCEL: {"date", "time", "part_of_day", "attendees", "title"},
    Intent.CALENDAR_MOVE: {"date", "time", "new_date", "new_time", "attendees", "title"},
    Intent.EMAIL_DRAFT: {"attendees", "subject", "text"},
    Intent.EMAIL_SEND: {"attendees", "subject", "text"},
    Intent.NOTES_SAVE: {"text"},
    Intent.NOTES_SEARCH: {"text"},
    Intent.MEMORY_REMEMBER: {"text"},
    Intent.MEMORY_FORGET: {"text"},
}


@pytest.fixture(scope="module")
def corpus() -> list[Utterance]:
    return load_corpus()


def test_each_file_holds_only_its_own_split() -> None:
    for name, split in (("tune.jsonl", "tune"), ("heldout.jsonl", "heldout")):
        utterances = load_corpus(files=[name])
        assert utterances, name
        assert {u.split for u in utterances} == {split}


def test_size_and_held_out_share(corpus: list[Utterance]) -> None:
    assert len(corpus) >= 450
    heldout = sum(u.split == "heldout" for u in corpus)
    assert 0.25 <= heldout / len(corpus) <= 0.40


def test_ids_are_unique(corpus: list[Utterance]) -> None:
    duplicates = [i for i, n in Counter(u.id for u in corpus).items() if n > 1]
    assert duplicates == []


def test_every_intent_is_covered_in_both_splits(corpus: list[Utterance]) -> None:
    for split in ("tune", "heldout"):
        seen = {u.intent for u in corpus if u.split == split}
        assert seen == set(Intent), f"{split} lacks {set(Intent) - seen}"


def test_held_out_sentences_are_not_in_the_tune_part(corpus: list[Utterance]) -> None:
    # Lines of fillers or punctuation alone (nothing to rephrase) normalise to "".
    tune = {normalise_text(u.text) for u in corpus if u.split == "tune"} - {""}
    repeated = [u.id for u in corpus if u.split == "heldout" and normalise_text(u.text) in tune]
    assert repeated == []


def test_slots_belong_to_their_intent(corpus: list[Utterance]) -> None:
    for u in corpus:
        allowed = set() if u.intent in SLOTLESS else ALLOWED_SLOTS[u.intent]
        assert u.labelled_slots() <= allowed, (u.id, u.labelled_slots() - allowed)


def test_dates_times_and_durations_are_valid(corpus: list[Utterance]) -> None:
    for u in corpus:
        s = u.slots
        for day in (s.date, s.date_to, s.new_date):
            if day is not None:
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day), (u.id, day)
                assert date.fromisoformat(day) >= REFERENCE_DAY, (u.id, day)
        for clock in (s.time, s.new_time):
            if clock is not None:
                assert re.fullmatch(r"\d{2}:\d{2}", clock), (u.id, clock)
                time.fromisoformat(clock)
        if s.date_to is not None:
            assert s.date is not None and s.date < s.date_to, u.id
        if s.duration_minutes is not None:
            assert 0 < s.duration_minutes <= 8 * 60, u.id
        if s.time is not None or s.new_time is not None:
            assert s.part_of_day is None, (u.id, "part_of_day only without a clock time")


def test_people_are_contacts_by_first_or_full_name(corpus: list[Utterance]) -> None:
    names = load_contacts()
    known = {n.casefold() for n in names} | {n.split()[0].casefold() for n in names}
    for u in corpus:
        for person in u.slots.attendees:
            assert person.casefold() in known, (u.id, person)


def test_contacts_have_unique_names_and_addresses() -> None:
    rows = json.loads((CORPUS_DIR / "contacts.json").read_text())
    assert len({r["name"] for r in rows}) == len(rows) >= 12
    assert len({r["email"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", r["email"]) for r in rows)
    first_names = Counter(r["name"].split()[0] for r in rows)
    assert first_names["Alice"] == 2
