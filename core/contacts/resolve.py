"""Who a name said in a command means: one contact, several to choose from, or nobody.

Every contact is known by several keys (full name, first or last name alone, nicknames, ...).
A spoken name is scored against every key (core.contacts.names); the contact scores as its best
key. Spoken and key words are compared one to one when both have as many words, else as one
run-together spelling ("Mac Donald" and "MacDonald"), which rapidfuzz scores for all keys at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import jellyfish
from rapidfuzz import fuzz, process

from core.contacts.names import EXACT, MAX_GUESS, NICKNAME, nicknames, normalise, word_score

# Scores are 0-100. Below ACCEPT a name is unknown rather than guessed; contacts within MARGIN
# of the best are too close to tell apart by ear.
ACCEPT = 80.0
MARGIN = 4.0
_SPELLED_ALIKE = 95.0
_SOUNDS_ALIKE = 85.0


@dataclass(frozen=True)
class Contact:
    """A person in the caller's address book."""

    contact_id: str
    name: str
    email: str | None
    phone: str | None
    aliases: tuple[str, ...]


class NameMatch(StrEnum):
    """How a spoken name resolved."""

    UNIQUE = "unique"
    AMBIGUOUS = "ambiguous"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Resolution:
    """The contacts a spoken name may mean: one (unique), several (ask which), none (unknown)."""

    status: NameMatch
    spoken: str
    candidates: tuple[Contact, ...]


Key = tuple[str, ...]


@lru_cache(maxsize=8192)
def name_keys(contact: Contact) -> tuple[tuple[Key, float], ...]:
    """Every way a person may be named, with the best score a match on it can earn: full name,
    first and last name alone, first and last without middle names, all given names ("Mei
    Ling"), each alias alone and with the last name ("Bob Jones"); and, up to NICKNAME, common
    nicknames of the first name ("Bob" and "Bob Jones" for Robert Jones)."""
    words = normalise(contact.name)
    last = words[-1:] if len(words) > 1 else ()
    keys: dict[Key, float] = {}

    def add(key: Key, cap: float = EXACT) -> None:
        if key and keys.get(key, 0.0) < cap:
            keys[key] = cap

    add(words)
    if last:
        add(words[:1])
        add(last)
    if len(words) > 2:
        add((words[0], words[-1]))
        add(words[:-1])
    for alias in contact.aliases:
        said = normalise(alias)
        add(said)
        if len(said) == 1:
            add(said + last)
    if words:
        for nickname in sorted(nicknames(words[0])):
            add((nickname,), NICKNAME)
            add((nickname, *last), NICKNAME)
    return tuple(keys.items())


@dataclass(frozen=True)
class _Index:
    """The keys of an address book, flattened: key i belongs to contact ``owners[i]`` and earns
    at most ``caps[i]``; one-word keys are also grouped by word, since a spoken word is scored
    once per distinct word."""

    owners: tuple[int, ...]
    keys: tuple[Key, ...]
    caps: tuple[float, ...]
    joined: tuple[str, ...]
    sounds: tuple[str, ...]
    by_word: dict[str, tuple[tuple[int, float], ...]]


@lru_cache(maxsize=32)
def _index(contacts: tuple[Contact, ...]) -> _Index:
    owners: list[int] = []
    keys: list[Key] = []
    caps: list[float] = []
    by_word: dict[str, list[tuple[int, float]]] = {}
    for number, contact in enumerate(contacts):
        for key, cap in name_keys(contact):
            owners.append(number)
            keys.append(key)
            caps.append(cap)
            if len(key) == 1:
                by_word.setdefault(key[0], []).append((number, cap))
    joined = tuple("".join(k) for k in keys)
    return _Index(
        tuple(owners),
        tuple(keys),
        tuple(caps),
        joined,
        tuple(jellyfish.metaphone(j) for j in joined),
        {word: tuple(owned) for word, owned in by_word.items()},
    )


def _scores(contacts: tuple[Contact, ...], words: Key) -> list[float]:
    """Each contact's best score for the spoken ``words``."""
    index = _index(contacts)
    best = [0.0] * len(contacts)
    size = len(words)
    if size == 1:
        for word, owned in index.by_word.items():
            score = word_score(words[0], word)
            for owner, cap in owned:
                best[owner] = max(best[owner], min(cap, score))
    else:
        for owner, key, cap in zip(index.owners, index.keys, index.caps, strict=True):
            if len(key) == size:
                score = sum(word_score(s, k) for s, k in zip(words, key, strict=True)) / size
                best[owner] = max(best[owner], min(cap, score))
    if any(len(word) == 1 for word in words):
        return best  # initials ("Alice S") are compared word by word only
    # Run together, the spellings must agree all but exactly, or sound alike: "Alice Xu" is
    # not "Alice" with a typo, but "Mc Donald" is "MacDonald".
    said = "".join(words)
    sound = jellyfish.metaphone(said)
    run_together = process.extract(
        said, index.joined, scorer=fuzz.ratio, limit=None, score_cutoff=_SOUNDS_ALIKE
    )
    for _joined, score, position in run_together:
        alike = score >= _SPELLED_ALIKE or index.sounds[position] == sound
        if alike and len(index.keys[position]) != size:
            owner = index.owners[position]
            best[owner] = max(best[owner], min(index.caps[position], MAX_GUESS, score))
    return best


def resolve_name(contacts: Sequence[Contact], spoken: str) -> Resolution:
    """The contact(s) a name said in a command means.

    UNIQUE when one contact matches clearly better than any other; AMBIGUOUS with the close
    candidates (best first, then by name) when several match about equally ("Alice" with two
    Alices, or "Jon" with a John and a Jon); UNKNOWN when none matches well enough: never a guess.
    """
    words = normalise(spoken)
    book = tuple(contacts)
    if all(len(word) == 1 for word in words) or not book:
        return Resolution(NameMatch.UNKNOWN, spoken, ())
    scored = sorted(
        (
            (score, c)
            for score, c in zip(_scores(book, words), book, strict=True)
            if score >= ACCEPT
        ),
        key=lambda pair: (-pair[0], pair[1].name, pair[1].contact_id),
    )
    if not scored:
        return Resolution(NameMatch.UNKNOWN, spoken, ())
    floor = max(ACCEPT, scored[0][0] - MARGIN)
    close = tuple(contact for score, contact in scored if score >= floor)
    status = NameMatch.UNIQUE if len(close) == 1 else NameMatch.AMBIGUOUS
    return Resolution(status, spoken, close)
