"""What a caller's spoken answer to a yes/no question means: yes, no or unclear.

Built for transcripts of speech, not typed text. The answer is cut into clauses at correction
markers ("actually", "sorry, I mean", "wait, no", "hang on"); the last clause that says
something decides, so "sure... sorry, I mean no" is a no. Within a clause, phrases from a
lexicon carry a polarity, a negation in front of a yes phrase turns it into a no ("not now",
"don't do it"), and hedges, conditions and questions make it unclear. Words the recogniser
bent ("solutely", "sounds could") are matched phonetically (metaphone, jellyfish) and by
edit similarity (rapidfuzz) against the answer phrases, more strictly for yes than for no.

Safety comes first: a yes needs the whole answer to agree; a no after a yes takes the yes
back; anything else that is both yes and no, or yes with a condition, is unclear.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import jellyfish
from rapidfuzz import fuzz

Answer = Literal["yes", "no", "unclear"]


class DecidedBy(StrEnum):
    """Which path produced an answer (recorded with the approval's decision)."""

    LEXICON = "lexicon"
    FUZZY = "fuzzy"
    MODEL = "model"
    DTMF = "dtmf"


class Topic(StrEnum):
    """What a caller's question about the pending action asks for."""

    RECIPIENT = "recipient"
    TIME = "time"
    SUBJECT = "subject"
    ACTION = "action"
    REPEAT = "repeat"


@dataclass(frozen=True)
class Reading:
    """How an answer was understood.

    ``question`` is set when the caller asked something back about the pending action; the
    answer is then ``unclear``. ``open`` means no clause said anything the lexicon knows
    (neither polarity, hedge nor question): only then may a model be asked.
    """

    answer: Answer
    decided_by: DecidedBy | None = None
    question: Topic | None = None
    open: bool = False


YES_PHRASES = (
    "yes", "yeah", "yea", "yep", "yup", "ya", "yah", "yess", "aye", "sure", "okay", "ok",
    "okey dokey", "kay", "alright", "all right", "right", "correct", "indeed", "exactly",
    "certainly", "absolutely", "definitely", "totally", "affirmative", "approve", "approved",
    "i approve", "confirm", "confirmed", "i confirm", "proceed", "go ahead", "go on",
    "go on then", "go for it", "do it", "do that", "please do", "sounds good", "of course",
    "that's right", "that's correct", "that's fine", "fine", "fine by me", "works for me",
    "that works", "sure thing", "you bet", "why not", "no problem", "no worries",
    "not a problem", "send it", "book it", "that's the one", "that's what i want",
    "by all means", "i do", "make it so", "don't mind", "i don't mind",
    "that's what i wanted",
)  # fmt: skip
NO_PHRASES = (
    "no", "nope", "nah", "naw", "never", "don't", "do not", "dont", "cancel", "cancel it",
    "cancel that", "stop", "deny", "denied", "reject", "rejected", "negative", "abort",
    "not now", "not yet", "not today", "not right now", "never mind", "nevermind",
    "hold off", "forget it", "forget that", "drop it", "drop that", "scrap it", "scrap that",
    "scratch that", "skip it", "skip that", "ditch it", "kill it", "no need", "no thanks",
    "no thank you", "no way", "leave it", "let's not", "better not", "rather not",
    "i'd rather not", "not a good idea", "don't bother", "changed my mind", "i said no",
    "absolutely not", "definitely not", "certainly not", "of course not", "not at all",
    "i don't think so", "don't think so", "not that one", "decline", "declined",
)  # fmt: skip
# A hedge, a condition or a change of the request makes its clause unclear.
HEDGES = (
    "not sure", "i'm not sure", "unsure", "not certain", "maybe", "perhaps", "possibly",
    "probably", "i guess", "guess so", "i don't know", "don't know", "dunno", "let me think",
    "let me see", "let me check", "i'll think", "think about it", "thinking", "depends",
    "it depends", "kind of", "sort of", "could be", "might", "later", "ask me later",
    "give me a second", "give me a minute", "a second", "a minute", "if", "unless", "but",
    "except", "only", "instead", "change", "yes and no", "if you think so", "first",
    "check first",
)  # fmt: skip
# Markers after which the caller's next words replace what they said before.
CORRECTIONS = (
    "actually", "sorry", "i mean", "i meant", "wait", "no wait", "wait no", "hang on",
    "hold on", "on second thought", "on second thoughts", "scratch that", "or rather",
    "oh", "hmm", "hm",
)  # fmt: skip
# Clauses a yes may carry besides its answer; anything else unexplained makes a yes unclear.
COURTESIES = frozenset({"thanks", "thank you", "thanks a lot", "thank you very much",
                        "please", "cheers", "now", "then", "right now", "great", "perfect",
                        "lovely"})  # fmt: skip
FILLERS = frozenset({"um", "uh", "er", "erm", "ah", "oh", "hmm", "hm", "mm", "well", "so"})
# Words a yes clause may carry besides its answer phrase: courtesies, links, and the action
# said back ("yes, go ahead and send the email to Alice").
WITH_YES = frozenset({"please", "thanks", "and", "to", "me", "for", "i", "mean", "actually",
                      "it", "that", "this", "them", "now", "then", "just", "really", "the",
                      "a", "an", "send", "book", "email", "mail", "meeting", "message", "invite",
                      "schedule", "move", "go", "ahead", "one"})  # fmt: skip
# More words than this in a yes clause that none of the above explain, and the clause may be
# something else the recogniser bent around a yes ("who's it going to" heard as "do it
# going too"): asked again rather than acted on.
MAX_UNEXPLAINED_WITH_YES = 1
NEGATORS = frozenset({"not", "don't", "dont", "never", "no", "do not", "didn't", "won't"})
QUESTION_WORDS = frozenset({"who", "whom", "whose", "which", "what", "what's", "when", "where",
                            "how", "why", "who's", "where's", "when's"})  # fmt: skip
QUESTION_OPENERS = ("is it", "is that", "is this", "does it", "does that", "can you",
                    "could you", "will it", "would it", "are you", "do you")  # fmt: skip
TOPIC_WORDS: tuple[tuple[Topic, tuple[str, ...]], ...] = (
    (Topic.REPEAT, ("repeat", "again", "what was the question", "what did you say",
                    "read it back", "come again", "pardon", "what was that")),
    (Topic.RECIPIENT, ("who", "whom", "who's", "recipient", "going to", "go to", "goes to",
                       "getting it", "sending it to", "for whom", "with who", "with whom")),
    (Topic.TIME, ("when", "what time", "what day", "which day", "how long")),
    (Topic.SUBJECT, ("what's it about", "what is it about", "subject", "title",
                     "what does it say")),
)  # fmt: skip
# Approval answers are short; a long utterance is another request, not an answer.
MAX_ANSWER_WORDS = 14
# Edit similarity (0-100) from which a misheard phrase counts: stricter for yes.
FUZZY_YES = 86
FUZZY_NO = 80
# Similarity of one bent word inside a phrase whose other words were heard right.
FUZZY_WORD = 60
FUZZY_WORD_SOUND = 75
# Yes words worth matching fuzzily: long enough that a slip cannot make one from a no.
FUZZY_YES_PHRASES = (
    "absolutely", "definitely", "certainly", "affirmative", "approved", "confirmed",
    "proceed", "go ahead", "go for it", "sounds good", "of course", "please do",
    "that's right", "that's correct", "sure thing", "alright", "exactly", "correct",
)  # fmt: skip
FUZZY_NO_PHRASES = (
    "nope", "cancel", "cancel it", "cancel that", "never mind", "scrap it", "scrap that",
    "drop it", "forget it", "abort", "don't", "do not", "no thanks", "no thank you",
    "not now", "not yet", "hold off", "negative", "no need", "don't bother", "stop", "deny",
)  # fmt: skip
MIN_SUFFIX_CHARS = 5
# Whisper's mean token log-probability under which a heard yes is doubted. Heard yeses of
# the development answers scored -1.5 and above but for one "Confirm" (-2.1); a "Never."
# heard as "Yeah." scored -2.2.
MIN_YES_LOGPROB = -1.8


def normalise(text: str) -> str:
    """Lower-case words with apostrophes kept and other punctuation dropped."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    return " ".join(re.sub(r"[^\w' ]+", " ", text).split())


def _alternation(phrases: tuple[str, ...] | frozenset[str]) -> str:
    return "|".join(sorted((re.escape(p) for p in phrases), key=len, reverse=True))


def _pattern(phrases: tuple[str, ...] | frozenset[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])(?:" + _alternation(phrases) + r")(?![\w'])")


_POLARITY: dict[str, Answer] = {**{p: "yes" for p in YES_PHRASES}, **{p: "no" for p in NO_PHRASES}}
# One alternation, longest first: "no problem" is a yes before "no" is a no.
_POLAR_RE = _pattern(tuple(_POLARITY))
_HEDGE_RE = _pattern(HEDGES)
_CORRECTION_RE = _pattern(CORRECTIONS)
# Words Whisper writes for a "not" or "no" said after an answer word ("definitely not").
_NOT_HEARD_AFTER_RE = re.compile(r"\s+(?:i\s+)?(?:know|now|art|knot|nought|naught|nod|note)\b")
_NEGATOR_BEFORE_RE = re.compile(r"(?:^|\s)(?:" + _alternation(NEGATORS) + r")\s*$")


@dataclass(frozen=True)
class _Clause:
    polarity: Answer | None  # None: the clause says neither yes nor no
    hedged: bool
    fuzzy: bool = False


def _clause_polarity(said: str) -> _Clause:
    """The polarity of one clause from the lexicon (negation scope included)."""
    found: set[str] = set()
    for match in _POLAR_RE.finditer(said):
        if _POLARITY[match.group(0)] == "no":
            found.add("no")
            continue
        if _NOT_HEARD_AFTER_RE.match(said, match.end()):
            # "Definitely art.", "That's right now.", "Yes I know.": a yes heard right
            # before a word the recogniser writes for "not" or "no" may be a no misheard.
            found.add("unclear")
            continue
        # "not now" is a no phrase already; here a negator before a yes phrase flips it.
        if _NEGATOR_BEFORE_RE.search(said[: match.start()]):
            found.add("no")
        else:
            found.add("yes")
    hedged = bool(_HEDGE_RE.search(said))
    if found == {"yes"} and _unexplained_with_yes(said) > MAX_UNEXPLAINED_WITH_YES:
        found = {"unclear"}
    if found == {"no"}:
        # "maybe not", "I don't know": a hedged no is unclear.
        return _Clause("unclear" if hedged else "no", hedged)
    if found == {"yes"}:
        return _Clause("unclear" if hedged else "yes", hedged)
    if found:
        return _Clause("unclear", hedged)
    return _Clause("unclear" if hedged else None, hedged)


def _unexplained_with_yes(said: str) -> int:
    """How many words of a yes clause are neither answer phrases nor expected beside one."""
    rest = _POLAR_RE.sub(" ", said).split()
    return sum(w not in WITH_YES and w not in FILLERS for w in rest)


def _ngrams(words: list[str], most: int = 3) -> list[str]:
    return [" ".join(words[i : i + n]) for n in range(1, most + 1) for i in range(len(words))
            if i + n <= len(words)]  # fmt: skip


def _word_like(heard: str, word: str, strict: bool) -> bool:
    """One word the recogniser may have bent: close in sound (or, unless strict, spelling)."""
    if heard == word:
        return True
    sound = fuzz.ratio(jellyfish.metaphone(heard), jellyfish.metaphone(word))
    return sound >= FUZZY_WORD_SOUND or (not strict and fuzz.ratio(heard, word) >= FUZZY_WORD)


def _sounds_like(heard: str, phrase: str, strict: bool) -> bool:
    """Whether ``heard`` may be ``phrase`` bent by the recogniser (``strict`` for yes)."""
    heard_words, phrase_words = heard.split(), phrase.split()
    if heard.replace(" ", "") == phrase.replace(" ", ""):
        return True  # "go a head"
    # A whole-phrase spelling match is safe for no; for a yes it let "please go" be "please do".
    whole_phrase = not (strict and len(phrase_words) > 1)
    if whole_phrase and fuzz.ratio(heard, phrase) >= (FUZZY_YES if strict else FUZZY_NO):
        return True
    if len(heard_words) != len(phrase_words):
        return False
    if len(phrase_words) > 1:
        # A two-word phrase with one word changed ("sounds could", "of cores").
        pairs = list(zip(heard_words, phrase_words, strict=True))
        exact = sum(h == w for h, w in pairs)
        return exact >= len(pairs) - 1 and all(_word_like(h, w, strict) for h, w in pairs)
    if len(heard) >= 3 and jellyfish.metaphone(heard) == jellyfish.metaphone(phrase):
        return heard[:1] == phrase[:1]
    # A lost first syllable: "solutely" for "absolutely".
    return len(heard) >= MIN_SUFFIX_CHARS and phrase.endswith(heard)


def _fuzzy_clause(said: str) -> _Clause:
    """A polarity from phrases the recogniser bent, or nothing."""
    words = [w for w in said.split() if w not in FILLERS]
    if not words or len(words) > 4:
        return _Clause(None, False)
    grams = _ngrams(words)
    no = any(_sounds_like(g, p, strict=False) for g in grams for p in FUZZY_NO_PHRASES)
    yes = any(_sounds_like(g, p, strict=True) for g in grams for p in FUZZY_YES_PHRASES)
    if no:
        return _Clause("no", False, fuzzy=True)
    if yes and not any(w in NEGATORS for w in words):
        return _Clause("yes", False, fuzzy=True)
    return _Clause(None, False)


def _is_question(raw: str, said: str) -> bool:
    if said.startswith(QUESTION_OPENERS):
        return True
    # Question words inside an answer phrase ("why not", "that's what I want") ask nothing.
    words = set(_POLAR_RE.sub(" ", said).split())
    return bool(words & QUESTION_WORDS) or ("?" in raw and _POLAR_RE.search(said) is None)


def question_topic(text: str) -> Topic:
    """What a question about the pending action asks for (the action itself by default)."""
    said = normalise(text)
    if said in ("what", "sorry what", "sorry"):
        return Topic.REPEAT
    for topic, cues in TOPIC_WORDS:
        if _pattern(cues).search(said):
            return topic
    return Topic.ACTION


def _clauses(text: str) -> list[tuple[str, str]]:
    """(raw, normalised) clauses, cut at punctuation and before each correction marker."""
    out: list[tuple[str, str]] = []
    for piece in re.split(r"(?<=[.!;?,])", text):
        said = normalise(piece)
        if not said:
            continue
        starts = [m.start() for m in _CORRECTION_RE.finditer(said)]
        bounds = [0, *[s for s in starts if s > 0], len(said)]
        for a, b in itertools.pairwise(bounds):
            part = said[a:b].strip()
            if part:
                out.append((piece, part))
    return out


def doubted(reading: Reading, heard_logprob: float | None, yes_disputed: bool = False) -> Reading:
    """``reading``, unless it is a yes the recogniser was unsure it heard, or one it did not
    hear again without biasing (``yes_disputed``): then unclear, so the question is asked
    again rather than a misheard "never" acted on."""
    unsure = heard_logprob is not None and heard_logprob < MIN_YES_LOGPROB
    if reading.answer == "yes" and (unsure or yes_disputed):
        return Reading("unclear")
    return reading


def only_courtesy(text: str) -> bool:
    """Whether ``text`` holds words but says nothing but courtesies and fillers ("Please.",
    "Um, thanks."): the tail of a request, or a murmur Whisper wrote as thanks."""
    clauses = [" ".join(w for w in part.split() if w not in FILLERS) for _, part in _clauses(text)]
    return bool(normalise(text)) and all(not c or c in COURTESIES for c in clauses)


# What stops the bot however briefly it is said. "Stop." is shorter than speech over the bot
# must last to count as a barge-in (see voice.backchannels); a murmur was never heard as one.
# "Wait" and "hold on" are left out: they ask the bot to listen, and the run has no reading
# of them alone, so they would reach the model.
_STOP_REQUEST = re.compile(
    r"^(?:(?:no|okay|ok|hey|please|sorry)\s+)*"
    r"(?:stop|enough|that's enough|that is enough|be quiet|quiet|shut up)(?![\w'])"
)
MAX_STOP_WORDS = 5


def asks_to_stop(text: str) -> bool:
    """Whether ``text`` is a short request to stop talking ("Stop.", "Okay, that's enough.")."""
    words = [w for w in normalise(text).split() if w not in FILLERS]
    return 0 < len(words) <= MAX_STOP_WORDS and bool(_STOP_REQUEST.match(" ".join(words)))


def read_answer(text: str) -> Reading:
    """Yes, no or unclear from the words alone, with the path that decided."""
    said = normalise(text)
    if not said:
        return Reading("unclear", open=True)
    if len(said.split()) > MAX_ANSWER_WORDS:
        return Reading("unclear")
    clauses = _clauses(text)
    # A question asked back: the last clause that asks something decides it is not an answer.
    for raw, part in reversed(clauses):
        body = _CORRECTION_RE.sub(" ", part).strip()
        if not body or all(w in FILLERS for w in body.split()):
            continue
        if _is_question(raw, body):
            return Reading("unclear", question=question_topic(text))
        break
    # Only what follows the last correction marker counts; within it, every clause must agree.
    segment: list[_Clause] = []
    known = False
    unexplained = False  # a clause in the segment that says nothing the lexicon knows
    for _raw, part in clauses:
        marker = _CORRECTION_RE.match(part)
        if marker:
            segment, unexplained = [], False
            known = True
        body = part[marker.end() :].strip() if marker else part
        words = " ".join(w for w in body.split() if w not in FILLERS)
        if not words or words in COURTESIES:
            continue
        clause = _clause_polarity(words)
        if clause.polarity is None:
            clause = _fuzzy_clause(words)
        if clause.polarity is not None:
            segment.append(clause)
            known = True
        else:
            unexplained = True
    polarities = {c.polarity for c in segment}
    fuzzy = any(c.fuzzy for c in segment)
    # "Yes, I know" was a misheard "yes and no": a yes must be all the caller said.
    if polarities == {"yes"} and not unexplained:
        return Reading("yes", DecidedBy.FUZZY if fuzzy else DecidedBy.LEXICON)
    # A no after a yes takes it back even without a marker Whisper may have dropped ("Yes,
    # send it. No. Don't send it."): the caller's last word, and the side that does nothing.
    if polarities == {"no"} or (segment and segment[-1].polarity == "no"):
        return Reading("no", DecidedBy.FUZZY if fuzzy else DecidedBy.LEXICON)
    # Nothing after a marker ("wait", "yes, actually"), a hedge or a mix: not an answer.
    return Reading("unclear", open=not known)
