"""Scoring parsed commands against the labelled understanding corpus.

A prediction is an *exact command match* when its intent is the labelled one and every slot the
label lists is equal, compared as follows:

* dates, times, durations and part of day: exactly;
* attendees: the same names, case-insensitively, in any order (a possessive "'s" and
  punctuation ignored);
* free text (title, subject, text): both sides are normalised (case folded, number words turned
  into digits by text2num, punctuation, fillers such as "um" and the articles a/an/the dropped;
  for titles also the generic nouns meeting/call/appointment/session) and then count as equal
  when identical or when rapidfuzz's ``fuzz.ratio`` is at least 85. ``ratio`` rather than
  ``token_set_ratio``: it forgives a misheard letter or a dropped short word, but not a body
  that lost half its words (``token_set_ratio`` scores any subset 100).

Slots the label does not list are ignored, except dates and times: a prediction that invents a
date or time the person did not say is wrong. A *wrong side-effecting action* is a risky
intent (booking, cancelling or moving a meeting, sending an email, forgetting a memory)
predicted when the person asked for something else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz
from text_to_num import alpha2digit

from core.understanding.command import Command, Intent, Slots

CORPUS_DIR = Path(__file__).resolve().parent / "corpora" / "understanding"
CORPUS_FILES = ("tune.jsonl", "heldout.jsonl")
# A development split beside the corpus proper: scored only when asked for.
DEV_FILE = "dev.jsonl"
RISKY_INTENTS = frozenset(
    {
        Intent.CALENDAR_BOOK,
        Intent.CALENDAR_CANCEL,
        Intent.CALENDAR_MOVE,
        Intent.EMAIL_SEND,
        Intent.MEMORY_FORGET,
    }
)
DATE_TIME_SLOTS = ("date", "date_to", "time", "new_date", "new_time")
EXACT_SLOTS = (*DATE_TIME_SLOTS, "duration_minutes", "part_of_day")
TEXT_SLOTS = ("title", "subject", "text")
FUZZY_MIN_RATIO = 85.0

_FILLERS = frozenset({"um", "umm", "uh", "uhh", "er", "erm", "hmm", "mm", "ah", "please"})
_ARTICLES = frozenset({"a", "an", "the"})
_GENERIC_TITLE_WORDS = frozenset({"meeting", "call", "appointment", "session", "event"})
_PUNCTUATION = re.compile(r"[^\w\s]")
_DIGIT_GAP = re.compile(r"(?<=\d) (?=\d)")


class Utterance(BaseModel):
    """One labelled line of the corpus."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    intent: Intent
    slots: Slots
    split: Literal["tune", "heldout", "dev"]

    def labelled_slots(self) -> set[str]:
        """The names of the slots the label lists."""
        return set(self.slots.model_fields_set)


def load_corpus(
    directory: Path = CORPUS_DIR, files: Sequence[str] = CORPUS_FILES
) -> list[Utterance]:
    """Every utterance of the corpus files, in file order."""
    utterances: list[Utterance] = []
    for name in files:
        for line in (directory / name).read_text().splitlines():
            if line.strip():
                utterances.append(Utterance.model_validate_json(line))
    return utterances


def load_contacts(directory: Path = CORPUS_DIR) -> list[str]:
    """The names of the seeded address book the corpus refers to."""
    rows = json.loads((directory / "contacts.json").read_text())
    return [str(row["name"]) for row in rows]


def normalise_text(value: str, *, title: bool = False) -> str:
    """A free-text slot reduced to the words that carry its meaning (see the module doc)."""
    text = alpha2digit(value.casefold().replace("'s ", "s "), "en")
    text = _PUNCTUATION.sub(" ", text.replace("'", ""))
    drop = _FILLERS | _ARTICLES | (_GENERIC_TITLE_WORDS if title else frozenset())
    words = [w for w in text.split() if w not in drop]
    return _DIGIT_GAP.sub("", " ".join(words))


def text_matches(expected: str | None, got: str | None, *, title: bool = False) -> bool:
    """Whether two free-text slot values say the same thing."""
    want = normalise_text(expected or "", title=title)
    have = normalise_text(got or "", title=title)
    if want == have:
        return True
    if not want or not have:
        return False
    return fuzz.ratio(want, have) >= FUZZY_MIN_RATIO


def _name_key(name: str) -> str:
    name = name.casefold().strip()
    name = re.sub(r"'s$", "", name)
    return " ".join(_PUNCTUATION.sub(" ", name).split())


def attendees_match(expected: Iterable[str], got: Iterable[str]) -> bool:
    """Whether two attendee lists name the same people (case and order ignored)."""
    return sorted(map(_name_key, expected)) == sorted(map(_name_key, got))


@dataclass
class Verdict:
    """How one prediction compares with its label."""

    utterance_id: str
    intent_ok: bool
    exact: bool
    wrong_side_effect: bool
    wrong_slots: list[str] = field(default_factory=list)


def score(label: Utterance, predicted: Command) -> Verdict:
    """Compare one predicted command with its label."""
    intent_ok = predicted.intent == label.intent
    wrong: list[str] = []
    labelled = label.labelled_slots()
    want, have = label.slots, predicted.slots
    for name in EXACT_SLOTS:
        expected, got = getattr(want, name), getattr(have, name)
        if name in labelled:
            if expected != got:
                wrong.append(name)
        elif name in DATE_TIME_SLOTS and got is not None:
            wrong.append(name)
    if "attendees" in labelled and not attendees_match(want.attendees, have.attendees):
        wrong.append("attendees")
    for name in TEXT_SLOTS:
        if name in labelled and not text_matches(
            getattr(want, name), getattr(have, name), title=name == "title"
        ):
            wrong.append(name)
    return Verdict(
        utterance_id=label.id,
        intent_ok=intent_ok,
        exact=intent_ok and not wrong,
        wrong_side_effect=predicted.intent in RISKY_INTENTS and not intent_ok,
        wrong_slots=wrong,
    )


@dataclass(frozen=True)
class Summary:
    """Rates over a set of verdicts (0..1)."""

    n: int
    intent_accuracy: float
    exact_match: float
    wrong_side_effect_rate: float


def summarise(verdicts: Sequence[Verdict]) -> Summary:
    """Intent accuracy, exact command match and wrong side-effecting rate of verdicts."""
    n = len(verdicts)
    if n == 0:
        return Summary(0, 0.0, 0.0, 0.0)
    return Summary(
        n=n,
        intent_accuracy=sum(v.intent_ok for v in verdicts) / n,
        exact_match=sum(v.exact for v in verdicts) / n,
        wrong_side_effect_rate=sum(v.wrong_side_effect for v in verdicts) / n,
    )
