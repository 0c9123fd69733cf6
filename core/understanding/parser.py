"""A turn's text becomes a :class:`Command`: deterministic, pure, no I/O.

The intent comes from the phrase grammar declared beside each built-in tool (``INTENTS`` in
``core/tools/builtin``) and the conversational intents of ``grammar.CONVERSATION``; slots come
from ``when`` (dates, times, durations, parts of day) and from the words around the cue
(attendees after "with", an email's recipients and body, a note's text). Phrases anchored at
the start of a turn also match after a short lead-in; a turn no phrase covers is read by verb
and object cues (``cues``); a negated or past-tense side effect is never acted on without
asking. A side effect read with less than ``CONFIDENT`` confidence (a question about it, a
hedge, two readings that compete, a verb with nothing to act on) is returned as
``NOT_UNDERSTOOD``: the parser never guesses an action. A turn with no cue but
with slots ("tomorrow at ten", "Alice Smith") is ``NOT_UNDERSTOOD`` with low confidence and
its slots filled: the agent reads it as the answer to its own last question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from core.understanding import meeting_words
from core.understanding.command import Command, Intent, ParseContext, Slots
from core.understanding.cues import score_cues
from core.understanding.grammar import CONVERSATION, IntentPhrases
from core.understanding.meeting_words import GENERIC_HEADS, KIND_SAID, MEETING_NOUNS
from core.understanding.normalize import SENTENCE_MARK, Utterance, normalise
from core.understanding.when import When, find_when, find_when_split

# From this confidence a command is acted on without asking the model.
CONFIDENT = 0.75
# A start-anchored phrase found after a lead-in of at most this many words ...
_MAX_LEAD_WORDS = 6
# ... is a little less certain than one that opens the turn; a whole-turn conversational
# phrase ("cancel it") after a lead-in that may name a meeting is less certain still.
_LATE_PENALTY = 0.05
_LATE_CONVERSATION_PENALTY = 0.2
_CONVERSATION = {Intent.HELP, Intent.CANCEL_TASK, Intent.REPEAT}
_MEETING_INTENTS = {
    Intent.CALENDAR_LIST,
    Intent.CALENDAR_FREE,
    Intent.CALENDAR_BOOK,
    Intent.CALENDAR_CANCEL,
    Intent.CALENDAR_MOVE,
}
_RISKY = {
    Intent.CALENDAR_BOOK,
    Intent.CALENDAR_CANCEL,
    Intent.CALENDAR_MOVE,
    Intent.EMAIL_SEND,
    Intent.MEMORY_FORGET,
}
_NOT_A_REQUEST = re.compile(
    r"^(?:did|have|has|had|was|were) (?:i|you|we|they|he|she)\b|^(?:did|didn't|hasn't|wasn't)\b"
    r"|\bhow (?:do|can|would|should) (?:i|you|we)\b|\bhow to\b|\bwhat (?:happens|would happen) if\b"
    r"|\bwhat if\b"
    r"|^(?:i|we|you|they) (?:already |just )?(?:cancelled|canceled|moved|booked|sent|emailed"
    r"|scheduled|rescheduled)\b|\b(?:was|were|has been|got) (?:moved|cancelled|canceled|booked"
    r"|sent|rescheduled)\b"
    # "is that still at 10 or did someone move it", "I think I have lunch Wednesday, can you check"
    r"|\b(?:is|are) (?:it|that|this|they|we) still\b|\bdid (?:someone|somebody|anyone|they|he|she)"
    r" (?:change|move|cancel|book|reschedule)\b|^i think (?:i|we) (?:have|had|got)\b"
    r"|\b(?:can|could) you (?:check|confirm|verify|double[- ]check|see)(?: (?:that|it|for me))?"
    r"\s*[?.!]*$"
)
# A hedge is not an order: "I might have to cancel", "thinking about moving it".
_HEDGE = re.compile(
    r"\b(?:might|may have to|maybe|perhaps|probably|not sure|unsure|thinking (?:about|of)"
    r"|wonder(?:ing)?|considering|should i|i think i(?:'ll| will| should| might)|^i(?:'ll| will"
    r"|'m going to|'m gonna| am going to)|(?:if|whether) (?!you\b|i\b)\w+ (?:will|would|can"
    r"|could|should|is going to)"
    # Past plans and opinions order nothing: "I was going to cancel ...", "I hate when ...".
    r"|i (?:was|were) (?:going|planning|meaning|about) to|i meant to|^i (?:wanted|almost) to"
    r"|^i (?:hate|love|like|dislike|don't like|can't stand|prefer) (?:it )?when"
    r"|when (?:people|someone|somebody|they|everyone) )\b"
)
# A turn that opens as a question asks about something; it does not order it ("do I have
# meetings Wednesday", "is there room for a meeting"). Polite requests ("can you ...") were
# unwrapped by ``normalise`` and do not reach here as questions.
# "Carol wants to move the meeting": someone else's wish, reported, is not an order.
_THIRD_PARTY = re.compile(
    r"^(?!i\b|we\b|you\b|please\b)(?:[a-z']+ ){1,2}(?:wants|wanted|needs|needed|asked|is asking"
    r"|would like|'d like|said|says|thinks|is trying|tried|is going|was going|plans|hopes"
    r"|prefers|decided|has decided)(?: (?:me|us|you|him|her|them))? to\b"
    r"|^(?!i\b|we\b|you\b|please\b)[a-z']+(?: [a-z']+)? (?:said|says|told me|mentioned|thinks)"
    r" (?:that )?(?:he|she|they|it)(?:'ll| will|'s going to| is going to| would)\b"
)
_SUBJECT = r"(?:i|you|we|they|he|she|it|there|anyone|someone|\w+ (?:have|has))"
_ASKING = re.compile(
    rf"^(?:(?:do|does|did) {_SUBJECT}|(?:is|are|am|was|were|have|has) (?:{_SUBJECT}|my|the|our"
    r"|your)|what|what's|when|when's|where"
    r"|which|who|whom|whose|why|how|how's|see if|check if|check whether|find out if"
    r"|find out whether|i wonder|would it|should (?:i|we)|is it (?:better|worth|ok|okay|wise)"
    r"|any idea|would (?:i|we|you|he|she|they) be)\b"
)
# "I can't remember if ...": a negated remember is no more a request than a negated action.
_NEGATABLE = _RISKY | {Intent.MEMORY_REMEMBER}
# A turn that opens by forbidding an action orders nothing ("don't book anything on Friday").
_FORBIDDING = re.compile(
    r"^(?:please )?(?:don't|do not|dont|never|no need to|hold off(?: on)?)\b"
    r"(?! (?:forget|remember|send))"
)
# Words that open dictated content: commands said after them belong to the message.
_DICTATED = re.compile(
    r"\b(?:saying|that says|to say|say that|asking|telling (?:him|her|them))\b|:"
)
_DICTATING = {Intent.EMAIL_SEND, Intent.EMAIL_DRAFT, Intent.NOTES_SAVE, Intent.MEMORY_REMEMBER}
# "Remember that Alice likes to cancel meetings on Fridays": what follows "that" is a fact to
# keep, not a request, whatever verbs it holds. In "remember that meeting with Bob?" the
# "that" points at a thing, and the turn may go on to ask for something.
_KEEP_THAT = re.compile(
    r"^(?:remember|keep in mind|bear in mind|(?:don't|do not) forget|just so you know"
    r"|for your information|i want you to know|i'd like you to know) that "
    r"(?!(?:meeting|call|appointment|event|one|thing|email|e-mail|message|note|booking|day"
    r"|time)s?\b)"
)
_EMAIL = {Intent.EMAIL_SEND, Intent.EMAIL_DRAFT}
# "The last thing I asked you to remember": the newest memory, named by when it was kept.
_NEWEST = (
    r"(?:the |that |your )?(?:last|latest|most recent|newest) (?:thing|one|fact|memory)\b"
    r"(?: (?:i|you) (?:just )?(?:told|asked|said|saved|kept|stored|learned|remembered)\b[^,]*)?"
)
# ... and the forget request said after it ("..., forget that").
_FORGET_NEWEST = re.compile(
    rf"^{_NEWEST},? (?:please )?(?:forget|delete|erase|drop|scratch|remove|wipe) (?:that|it)$"
)
_ACTIONS = (
    _MEETING_INTENTS
    | _DICTATING
    | {
        Intent.NOTES_SEARCH,
        Intent.MEMORY_FORGET,
        Intent.MEMORY_LIST,
    }
)
_JOIN = re.compile(r"\b(?:and|then|also|plus)\b")
# Below CONFIDENT: the turn is asked about or goes to the model.
_UNSURE = 0.6
# Tie-break when two intents score the same: the more specific action first.
_PRIORITY = [
    Intent.OUT_OF_SCOPE,
    Intent.CALENDAR_MOVE,
    Intent.CALENDAR_CANCEL,
    Intent.EMAIL_DRAFT,
    Intent.NOTES_SAVE,
    Intent.NOTES_SEARCH,
    Intent.MEMORY_FORGET,
    Intent.MEMORY_LIST,
    Intent.MEMORY_REMEMBER,
    Intent.CALENDAR_FREE,
    Intent.CALENDAR_BOOK,
    Intent.EMAIL_SEND,
    Intent.CALENDAR_LIST,
    Intent.HELP,
    Intent.CANCEL_TASK,
    Intent.REPEAT,
]
_COMMON = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "at",
        "be",
        "book",
        "but",
        "by",
        "call",
        "can",
        "cancel",
        "could",
        "day",
        "did",
        "do",
        "does",
        "email",
        "for",
        "from",
        "get",
        "give",
        "go",
        "have",
        "hello",
        "help",
        "hi",
        "how",
        "i",
        "i'm",
        "in",
        "is",
        "it",
        "its",
        "just",
        "know",
        "let",
        "like",
        "me",
        "meeting",
        "mine",
        "my",
        "need",
        "no",
        "not",
        "note",
        "now",
        "of",
        "on",
        "one",
        "or",
        "please",
        "remember",
        "schedule",
        "see",
        "send",
        "should",
        "so",
        "tell",
        "than",
        "thank",
        "thanks",
        "that",
        "the",
        "them",
        "then",
        "there",
        "they",
        "this",
        "time",
        "to",
        "today",
        "tomorrow",
        "up",
        "us",
        "want",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "yes",
        "you",
        "your",
    ]
)
_QUESTION = re.compile(
    r"^(?:what|how|why|who|whom|whose|when|where|which|is|are|was|were|can|could|should|would"
    r"|will|do|does|did|tell me|explain|describe|give me|write|summari[sz]e|list)\b"
)
_NAME_STOP = frozenset(
    [
        "on",
        "at",
        "for",
        "about",
        "regarding",
        "re",
        "tomorrow",
        "today",
        "tonight",
        "next",
        "this",
        "from",
        "to",
        "in",
        "the",
        "a",
        "an",
        "my",
        "our",
        "saying",
        "say",
        "says",
        "said",
        "that",
        "and",
        "or",
        "but",
        "with",
        "by",
        "around",
        "about",
        "after",
        "before",
        "between",
        "during",
        "until",
        "till",
        "morning",
        "afternoon",
        "evening",
        "night",
        "noon",
        "midnight",
        "lunchtime",
        "pm",
        "am",
        "o'clock",
        "oclock",
        "yesterday",
        "week",
        "weekend",
        "day",
        "days",
        "hour",
        "hours",
        "minutes",
        "minute",
        "min",
        "mins",
        "half",
        "quarter",
        "past",
        "titled",
        "called",
        "named",
        "subject",
        "asking",
        "telling",
        "tell",
        "let",
        "know",
        "is",
        "are",
        "was",
        "be",
        "will",
        "can",
        "could",
        "would",
        "should",
        "please",
        "thanks",
        "thank",
        "me",
        "us",
        "you",
        "it",
        "them",
        "him",
        "her",
        "his",
        "their",
        "its",
        "meeting",
        "meetings",
        "call",
        "appointment",
        "sync",
        "please",
        "just",
        "sometime",
        "some",
        "time",
        "free",
        "available",
        "when",
        "so",
        "then",
        "also",
        "if",
        "whether",
        "is",
        "has",
        "have",
        "had",
        "i",
        "i'm",
        "i'll",
        "we",
        "we're",
        "it's",
        "there",
        "here",
        "one",
        "ones",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "mon",
        "tue",
        "tues",
        "wed",
        "thu",
        "thurs",
        "fri",
        "sat",
        "sun",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "right",
        "now",
        "again",
        "instead",
        "back",
        "earlier",
        "later",
        "up",
        "new",
        "quick",
        "short",
        "email",
        "mail",
        "message",
        "note",
        "an",
        "hour",
        "hours",
        "of",
        "off",
        "out",
    ]
)
# Words an answer may be made of that are never a person's name.
_NOT_NAMES = (_COMMON - {"will", "may", "mine"}) | frozenset(
    [
        # "my colleague Bob Jones", "Dr Hannah Okafor": who the person is, not their name.
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "nephew",
        "niece",
        "son",
        "daughter",
        "aunt",
        "uncle",
        "granddaughter",
        "grandson",
        "colleague",
        "coworker",
        "co-worker",
        "boss",
        "manager",
        "friend",
        "buddy",
        "mate",
        "teammate",
        "assistant",
        "client",
        "sister",
        "brother",
        "cousin",
        "neighbour",
        "neighbor",
        "yes",
        "yeah",
        "yep",
        "no",
        "nope",
        "ok",
        "okay",
        "sure",
        "hello",
        "hey",
        "good",
        "great",
        "fine",
        "whats",
        "what's",
        "how",
        "find",
        "slot",
        "cancel",
        "move",
        "book",
        "email",
        "send",
        "that's",
        "sounds",
        "perfect",
        "thanks",
        "draft",
        "reply",
        "message",
        "both",
        "all",
        "everyone",
        "cc",
        "bcc",
        "line",
        "ask",
        "drafted",
        "sent",
        "written",
    ]
)
_TITLE_EXPLICIT = re.compile(
    r"\b(?:called|titled|named|entitled|about|regarding|re|on the topic of|to discuss|to talk about"
    r"|for the)\s+(.+?)(?=\s+(?:with|on|at|tomorrow|today|next|this|for|from|in|and invite)\b|$)"
)
_PURPOSE = re.compile(
    r"s? for (?:a|an|my|the) ((?!(?:\d|half|quarter|hour|minute|couple)\b)[a-z'\-]+(?: [a-z'\-]+)?)"
    r"(?= (?:on|at|with|tomorrow|today|next|this|in|for)\b| *$)"
)
_MOVE_TO = re.compile(
    r"\b(?<!quarter )(?<!half )(?:to|until|till|for|into|later|earlier)\b(?! \d+ (?:min|hour))"
)
_MAX_NAME_WORDS = 3
_VERBS = frozenset(
    [
        # slang for cancelling, moving and booking: "nuke tomorrow's standup"
        "dump",
        "nuke",
        "scrub",
        "wipe",
        "axe",
        "ditch",
        "bin",
        "shuffle",
        "punt",
        "slide",
        "throw",
        "shove",
        "slot",
        "cancel",
        "move",
        "book",
        "schedule",
        "reschedule",
        "push",
        "delete",
        "set",
        "put",
        "add",
        "make",
        "create",
        "arrange",
        "organise",
        "organize",
        "plan",
        "pencil",
        "block",
        "reserve",
        "get",
        "have",
        "call",
        "off",
        "down",
        "over",
        "throw",
        "stick",
        "pop",
        "slot",
        "squeeze",
        "fit",
        "drop",
        "remove",
        "clear",
        "scrap",
        "shift",
        "bump",
        "postpone",
        "delay",
        "change",
        "set",
        "up",
        "setup",
        "make",
        "attend",
        "rid",
        "take",
        "bring",
        "pull",
        "do",
        "grab",
        "slide",
        "meet",
        "scratch",
        "axe",
        "kill",
        "nix",
        "ditch",
        "scrap",
        "hold",
        "need",
        "want",
    ]
)


@cache
def _grammar() -> tuple[IntentPhrases, ...]:
    from core.tools.builtin.calendar_tools import INTENTS as CALENDAR
    from core.tools.builtin.email_tools import INTENTS as EMAIL
    from core.tools.builtin.notes_tools import INTENTS as NOTES

    grammar = (*CALENDAR, *EMAIL, *NOTES, *CONVERSATION)
    for declared in grammar:
        for phrase in declared.phrases:
            phrase.regex  # noqa: B018 - compiled once, here, not on a caller's first turn
            phrase.late_regex  # noqa: B018
    return grammar


@dataclass(frozen=True)
class Hit:
    """Where an intent's cue was found in the numeric view."""

    start: int
    end: int


# A sentence of a turn starts, perhaps with the polite words that open a request.
_SENTENCE_START = re.compile(
    rf"{SENTENCE_MARK}\s+"
    r"(?:(?:please |(?:could|can|would|will) you (?:please |kindly )?|would you mind "
    r"|i(?:'d| would) (?:like|love) (?:you )?to |i(?:'d| would) be grateful if you (?:would|could) "
    r")+)?(?=\S)",
    re.IGNORECASE,
)


def _lead_offsets(text: str) -> list[int]:
    """Where a command may start: the turn's start and its first few word starts.

    Phrases anchored at the start of a turn also match after a lead-in nobody listed
    ("from now on, remember that ...", "I changed my mind, cancel it").
    """
    offsets = [0]
    for m in re.finditer(r" (?=\S)", text):
        if len(offsets) > _MAX_LEAD_WORDS:
            break
        # After "an", "my", "the" comes a noun: "writing an email to Carol" does not say "email".
        if not _DETERMINER.search(text, 0, m.start()):
            offsets.append(m.end())
    # "Priya's waiting on the numbers, so could you email her ...": the request after the
    # reason, however long the reason was.
    offsets.extend(
        m.end() for m in _CLAUSE_LEAD.finditer(text) if m.end() not in offsets and m.end() > 0
    )
    # "I'm sorry, my memory is not what it was. Could you make a note that ...": a request
    # may open any sentence of the turn.
    offsets.extend(m.end() for m in _SENTENCE_START.finditer(text) if m.end() not in offsets)
    return sorted(offsets)


# The numeric view has no commas left: "so" is what marks the request after a reason.
_CLAUSE_LEAD = re.compile(
    r"\bso (?:i guess )?(?:(?:could|can|would|will) you (?:please )?|please |just )?(?=\w)"
    r"|, (?:(?:so|and|but) )?(?:(?:could|can|would|will) you (?:please )?|please |just )(?=\w)"
    # "I said something I shouldn't have. Please forget ...": "please" opens a request.
    r"|(?<!\bif you )\bplease (?=\w)"
)


_DETERMINER = re.compile(
    r"\b(?:a|an|the|my|your|our|his|her|their|this|that|these|those|some|any|another)$"
)
_NEGATION = re.compile(
    r"\b(?:can't|cannot|can not|won't|wont|will not|don't|dont|do not|not|unable|couldn't"
    r"|never|shouldn't|no longer|no more|no need to)\b(?! mind\b)(?: [\w']+){0,3} $"
)


def _negated(text: str, start: int) -> bool:
    """The action at ``start`` is negated ("I won't be able to make the review"); a negation
    in an earlier clause ("I'm not vegetarian anymore, so forget ...") is not."""
    begin = max(0, start - 40)
    # Leads are found in the whole text: "so" right before the action has its word after it.
    clauses = [m for m in _CLAUSE_LEAD.finditer(text) if begin <= m.start() and m.end() <= start]
    if clauses:
        begin = clauses[-1].end()
    return bool(_NEGATION.search(text[begin:start]))


def _score(text: str) -> list[tuple[float, Intent, Hit]]:
    scored: list[tuple[float, Intent, Hit]] = []
    offsets = _lead_offsets(text)
    for declared in _grammar():
        best: tuple[float, Hit] | None = None
        for phrase in declared.phrases:
            m = phrase.regex.search(text)
            if m:
                hit, confidence = Hit(m.start(), m.end()), phrase.confidence
            elif phrase.late_regex is not None and declared.intent is not Intent.OUT_OF_SCOPE:
                late_regex = phrase.late_regex
                found = next(
                    (
                        (k, late)
                        for k in offsets[1:]
                        if (late := late_regex.match(text, k)) is not None
                    ),
                    None,
                )
                if found is None:
                    continue
                k, late = found
                if (
                    declared.intent in _CONVERSATION
                    and " " not in late.group(0).strip()
                    and " " in text[:k].strip()
                ):
                    # One word after a longer lead-in ("Bob is late again") is not the request.
                    continue
                hit, confidence = Hit(late.start(), late.end()), phrase.confidence
                confidence -= (
                    _LATE_CONVERSATION_PENALTY
                    if declared.intent in _CONVERSATION
                    else _LATE_PENALTY
                )
            else:
                continue
            if declared.intent in _NEGATABLE and _negated(text, hit.start):
                continue
            if declared.intent in _RISKY and _DETERMINER.search(text, 0, max(0, hit.start - 1)):
                # After a determiner the verb is a noun: "my schedule after lunch" books nothing.
                continue
            if best is None or confidence > best[0]:
                best = (confidence, hit)
        if best is not None:
            scored.append((best[0], declared.intent, best[1]))
    scored.sort(key=lambda s: (-s[0], _PRIORITY.index(s[1])))
    return scored


def _family(intent: Intent) -> Intent:
    return Intent.EMAIL_SEND if intent in _EMAIL else intent


def _outside_dictation(
    text: str, scored: list[tuple[float, Intent, Hit]]
) -> list[tuple[float, Intent, Hit]]:
    """Readings that are not inside a dictated message ("email Bob saying cancel the meeting"
    cancels nothing: the cancel is what the email says)."""
    marker = _DICTATED.search(text)
    if marker is None:
        return scored
    openers = {_family(s[1]) for s in scored if s[1] in _DICTATING and s[2].start < marker.start()}
    if not openers:
        return scored
    return [s for s in scored if s[2].start < marker.start() or _family(s[1]) in openers]


def _compound(text: str, scored: list[tuple[float, Intent, Hit]]) -> bool:
    """Two different actions joined by "and"/"then" ("cancel my 3 pm and book a call"): one
    command cannot carry both, so neither is acted on."""
    strong = [s for s in scored if s[1] in _ACTIONS and s[0] >= CONFIDENT]
    for first in strong:
        for second in strong:
            if _family(first[1]) is _family(second[1]) or second[2].start <= first[2].start:
                continue
            if _JOIN.search(text, first[2].start, second[2].start):
                return True
    return False


def _gibberish(text: str) -> bool:
    words = re.findall(r"[a-z']+", text)
    if not words:
        return True
    if any(w in _COMMON for w in words):
        return False
    odd = [w for w in words if not re.search(r"[aeiouy]", w) or re.search(r"[^aeiouy']{5}", w)]
    return len(odd) * 2 >= len(words)


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the date/time spans blanked (so they are not read as names or titles)."""
    chars = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)


_SOUNDS = (
    (re.compile(r"^wh"), "w"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"bh|mh"), "v"),
    (re.compile(r"sch|sh|ch(?=[^aeiouy]|$)"), "s"),
    (re.compile(r"c(?=[eiy])"), "s"),
    (re.compile(r"ck|c|q"), "k"),
    (re.compile(r"(?<=.)[aeiouyhw]+"), ""),
    (re.compile(r"(.)\1+"), r"\1"),
)


def _sound_key(word: str, vowels: bool = False) -> str:
    """A rough phonetic key: how a name sounds, not how a transcript spelled it
    ("Carl"/"Karl", "Shawn"/"Sean", "Shivon"/"Siobhan", "Pria"/"Priya"); ``vowels`` keeps
    the vowels, to tell apart names whose consonants agree ("Carl" is Karl, not Carol)."""
    key = re.sub(r"[^a-z]", "", word.lower())
    for pattern, repl in _SOUNDS if not vowels else (*_SOUNDS[:6], _SOUNDS[7]):
        key = pattern.sub(repl, key)
    return key


def _heard_as(spoken: str, contacts: list[str]) -> str | None:
    """The one contact (first or full name) that ``spoken`` sounds like, if exactly one does."""
    if len(spoken) < 3:
        return None
    forms = {form for contact in contacts for form in (contact, contact.split()[0])}
    for vowels in (False, True):
        key = " ".join(_sound_key(w, vowels) for w in spoken.split())
        matches = [f for f in forms if " ".join(_sound_key(w, vowels) for w in f.split()) == key]
        if len(matches) <= 1:
            return matches[0] if matches else None
        forms = set(matches)
    return None


def _names(segment: str, contacts: list[str]) -> list[str]:
    """People in ``segment`` (the words after "with"/"to"), split on "and" and commas."""
    known = {c.lower(): c for c in contacts}
    firsts = {c.split()[0] for c in known}
    names: list[str] = []
    current: list[str] = []

    def continues(word: str) -> bool:
        """Whether ``word`` may extend the name said so far.

        Once the words form a contact's name, only that contact's longer name continues it:
        "with Zoe put it in" is Zoe, "with Bob Carol" two people.
        """
        spoken = " ".join(current)
        if spoken not in known and spoken not in firsts:
            return True
        longer = f"{spoken} {word}"
        return any(k == longer or k.startswith(f"{longer} ") for k in known)

    def close() -> None:
        if current:
            spoken = " ".join(current)
            if spoken in known or spoken in firsts:
                names.append(known.get(spoken, spoken.title()))
            else:
                names.append(_heard_as(spoken, contacts) or spoken.title())
            current.clear()

    for raw in re.findall(r"[a-z][a-z'\-.]*|,|&", segment):
        word = raw.rstrip(".")
        if word in (",", "&", "and", "plus"):
            close()
            continue
        if word.endswith("'s"):
            word = word[:-2]
        if (
            word in _NAME_STOP
            or word in _NOT_NAMES
            or word in MEETING_NOUNS
            or len(current) >= _MAX_NAME_WORDS
        ):
            close()
            if word in _NAME_STOP and word not in ("the", "my", "a"):
                break
            continue
        if current and not continues(word):
            close()
            if word not in firsts and word not in known:
                break
        current.append(word)
    close()
    return [n for n in names if n]


def _written_as_names(names: list[str], raw: str, contacts: list[str]) -> list[str]:
    """``names`` without the people who are no contact and whom the caller's text writes in
    lower case ("I'm trying to plan dinner", "allergic to Nuts" is kept): a recogniser or a
    person that capitalises at all capitalises names. Text without capitals says nothing."""
    if raw == raw.lower():
        return names
    known = {c.lower() for c in contacts} | {c.split()[0].lower() for c in contacts}
    return [
        n for n in names if n.lower() in known or re.search(rf"\b{re.escape(n.split()[0])}\b", raw)
    ]


def _contacts_in(text: str, contacts: list[str]) -> list[str]:
    """The contacts named anywhere in ``text``, by full or first name, in the order said."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for name in sorted(contacts, key=len, reverse=True):
        for spoken in (name.lower(), name.lower().split()[0]):
            m = re.search(rf"\b{re.escape(spoken)}\b", text)
            if m and not any(s < m.end() and m.start() < e for s, e in taken):
                found.append((m.start(), name if spoken == name.lower() else name.split()[0]))
                taken.append(m.span())
                break
    return [name for _, name in sorted(found)]


def _people_after(text: str, marker: str, contacts: list[str]) -> list[str]:
    found: list[str] = []
    # "to the team", "for a meeting": an article introduces a thing, not a person.
    for m in re.finditer(rf"\b{marker}\s+(?!(?:the|a|an|this|that|some)\b)", text):
        for name in _names(text[m.end() :], contacts):
            if name not in found:
                found.append(name)
    return found


# Words before a meeting's noun that say who has it or where it goes, not what it is:
# "I've got physio", "having drinks", "in the calendar".
_NOT_MODIFIERS = frozenset(
    [
        *("calendar", "diary", "schedule", "i", "i've", "i'm", "i'd", "got", "have", "having"),
        "had",
        # "what meeting?", "my next call": which one is asked about, not what it is.
        *("what", "which", "when", "where", "who", "whose", "how", "next", "last", "upcoming"),
        *("other", "every", "all", "any", "some", "following", "first", "1st", "earliest"),
    ]
)


# A meeting's head noun and the words before it.
_HEAD = re.compile(
    r"\b(?:(?:the|my|our|a|an|this|that|tomorrow's|today's|\w+day's)\s+)?((?:[a-z0-9:'\-]+ "
    r"){0,3}?)"
    rf"({meeting_words.GENERIC}|{meeting_words.KIND}|{meeting_words.ACTIVITY}|thing)s?\b"
)


def _meeting_title(text: str, cue_end: int, intent: Intent) -> str | None:
    """Words that name a meeting: explicit ("called X"), or the words before its head noun."""
    explicit = _TITLE_EXPLICIT.search(text)
    if explicit and intent is Intent.CALENDAR_BOOK:
        title = explicit.group(1).strip()
        if title and title not in ("it", "that", "this"):
            return title
    heads = _HEAD.finditer(
        # Searched in place, not in a slice: the match offsets index ``text`` below.
        text,
        max(0, cue_end - 90) if intent is not Intent.CALENDAR_BOOK else 0,
    )
    # The last head noun names the meeting ("call off the budget review": review, not call).
    head = None
    for candidate in heads:
        if candidate.group(2) != "call" or text[candidate.end() : candidate.end() + 4] != " off":
            head = candidate
    if head is None:
        return None
    # Only the words right before the noun describe it: "bail on the review" is a review.
    modifiers: list[str] = []
    # Read from the text, not the match: an earlier head noun ("offsite planning") may be
    # one of the words before this one.
    for w in reversed(text[: head.start(2)].split()[-3:]):
        if re.fullmatch(r"[\d:]+|\w*day's|quick|short|new|team's", w):
            continue
        if w in _NAME_STOP or "n't" in w or w in _VERBS or w in _NOT_MODIFIERS:
            break
        modifiers.insert(0, w)
    noun = head.group(2)
    words = [*modifiers, noun] if noun not in GENERIC_HEADS else modifiers
    title = " ".join(words).strip()
    if not title and noun in GENERIC_HEADS:
        # "an appointment for a haircut": a generic noun, then what it is for.
        purpose = _PURPOSE.match(text, head.end())
        if purpose:
            return purpose.group(1)
    return title or None


_ACTION_VERB = re.compile(
    r"\b(?:book|schedule|set up|setup|arrange|organi[sz]e|plan|put(?: in)?|add|create|make"
    r"|pencil in|block(?: out| off)?|reserve|cancel|call off|delete|remove|drop|scrap|clear"
    r"|axe|kill|scratch|get rid of|take(?: off)?|move|reschedule|push(?: back)?|postpone|shift|bump"
    r"|delay|bring forward|pull forward|rebook|switch|swap|change)\b"
)
_OBJECT_STOP = _NAME_STOP - {"the", "a", "an", "my", "our"} | {
    "to",
    "into",
    "calendar",
    "diary",
    "down",
}


def _object_title(text: str) -> str | None:
    """The noun phrase right after the action verb ("put a haircut on Saturday": haircut)."""
    verb = _ACTION_VERB.search(text)
    if verb is None:
        return None
    words: list[str] = []
    for word in text[verb.end() :].split():
        if word in ("the", "a", "an", "my", "our", "this", "that", "me", "us") and not words:
            continue
        if (
            word in _OBJECT_STOP
            or word in _VERBS
            or word in GENERIC_HEADS
            or re.search(r"[\d:]|'s$|n't", word)
            or len(words) >= _MAX_NAME_WORDS
        ):
            break
        words.append(word)
    return " ".join(words) or None


# "block two hours on Thursday for deep work": what the time is for closes the turn.
_TRAILING_PURPOSE = re.compile(r"\bfor (?:the |a |an |my |some )?((?!\d)[a-z][a-z' ]{1,30}?)\s*$")
_WITH_THING = re.compile(r"\b(?:with|at|to see) (?:the|my|our) ([a-z'\-]+(?: [a-z'\-]+)?)")


def _with_thing(text: str) -> str | None:
    """What a meeting is with when it is not a person ("an appointment with the dentist")."""
    m = _WITH_THING.search(text)
    if m is None:
        return None
    words: list[str] = []
    for word in m.group(1).split():
        if word in _OBJECT_STOP or word in GENERIC_HEADS:
            break
        words.append(word)
    return " ".join(words) or None


def _text_after(clean: str, pattern: str) -> str | None:
    m = re.search(pattern, clean, re.IGNORECASE)
    if m is None:
        return None
    text = clean[m.end() :].strip(" :,.-")
    return text or None


_BODY = (
    # "saying that I'll be late": "that" opens the message; "saying that works" is the message.
    r"\b(?:say(?:ing)? that(?= (?:i|i'm|i'll|i've|we|we're|you|he|she|they|it's|the|my|our"
    r"|his|her|their|there|everything)\b)|saying|that says|to say|and say"
    r"|asking(?: (?:him|her|them))?"
    r"|telling (?:him|her|them)(?: that)?"
    r"|(?:and )?tell (?:him|her|them)(?: that)?|and ask (?:him|her|them)(?: (?:if|whether))?"
    r"|letting (?:him|her|them) know(?: that)?|with the message"
    r"|(?:by|via|over) e-?mail(?: that| saying)?|(?<=, )(?:the )?text"
    r"|the message|that reads|reading|know that|know|(?:with the |message )?body"
    # "send that email to Bob": "that" points at the email, it does not open the message.
    r"|that(?! (?:e-?mail|mail|message|draft|reply|note|one)\b))\b[:,]?\s*"
)


# How to deliver it is not part of the message: "..., don't send it yet", "... and send it".
_DELIVERY = re.compile(
    r"[ ,.?!]*\b(?:and|but|then|just)?\s*(?:save|keep|leave) it (?:as a draft|in (?:my )?drafts)"
    r"(?: for now)?[.!]?\s*$"
    r"|[ ,]*\b(?:and|but|then)?\s*(?:don't|do not|dont) send (?:it|this|that)?(?: (?:yet|now"
    r"|right away))?[.!]?\s*$|[ ,]*\b(?:and|then) send (?:it|this|that)(?: (?:off|now|right away))?"
    r"[.!]?\s*$|[ ,]*\b(?:and|but|then)?\s*(?:hold (?:it|off)(?: on sending(?: it)?)?|keep it as a"
    r" draft|leave it as a draft)[.!]?\s*$"
    r"|[ ,.]*\b(?:and|but|then)?\s*(?:just )?draft (?:it|this|that)(?: (?:for now|first|up))?"
    r"[.!]?\s*$",
    re.IGNORECASE,
)


def _without_delivery(text: str) -> str:
    """``text`` without the closing words on how to deliver it ("..., but just draft it,
    don't send it")."""
    previous = None
    while previous != text:
        previous, text = text, _DELIVERY.sub("", text)
    return text


# "about the budget but let me check it first": the subject ends where a new clause starts.
_CLAUSE_END = re.compile(
    r"[ ,]+(?:but|and then|then|so that|so i|and let me|let me|and don't|don't|and do not)\b"
    # "about the offsite, I'll look it over": after a comma a new subject opens a new clause.
    r"|[,;.?!]+\s*(?:i|i'll|i'd|i'm|we|we'll|you|just|please|and|so|it|this)\b",
    re.I,
)
_GETS_MAIL = re.compile(
    r"(?:^|\bmake sure (?:that )?)([a-z]+(?: [a-z]+)?) (?:gets|receives|is sent|has) (?:an? |the )?"
    r"(?:e-?mail|message|note)\b"
)
# "let Priya know by email that ...": the channel, then the message.
_CHANNEL = re.compile(r"^(?:by|via|over|through) e-?mail\b[ ,:]*(?:(?:that|saying)\b[ ,:]*)?", re.I)


_TO_PRONOUN = re.compile(
    r"\b(?:e-?mail|mail|message|tell|let|ping|write to|send) (?:him|her|them)\b"
)


_TRAILING_MARKER = re.compile(r"[ ,]+(?:actually|sorry|wait|i mean|oh)\s*$", re.IGNORECASE)


def _email_slots(u: Utterance, slots: Slots, ctx: ParseContext) -> None:
    text = _without_delivery(u.numeric)
    clean = _without_delivery(u.clean)
    # Recipients are named before the message; names inside it are its content.
    body_at = re.search(_BODY, text)
    people = _people_after(
        text[: body_at.start()] if body_at else text,
        r"(?:to|for|e-?mail|mail|message|tell|let|inform|notify|ask|send|cc|shoot|drop|write|ping)",
        ctx.contact_names,
    )
    slots.attendees = [p for p in people if p.lower() not in ("an", "the", "a")]
    known = {n.lower() for c in ctx.contact_names for n in (c, c.split()[0])}
    if any(a.lower() in known for a in slots.attendees):
        # "shoot an email over to Caleb": beside a contact, a word no one is called is no one.
        slots.attendees = [a for a in slots.attendees if a.lower() in known]
    if not slots.attendees and (gets := _GETS_MAIL.search(text)):
        # "make sure Bob gets an email saying ...": the one who gets it.
        slots.attendees = _names(gets.group(1), ctx.contact_names)
    if not slots.attendees and _TO_PRONOUN.search(text[: body_at.start()] if body_at else text):
        # "Priya's waiting on the numbers, so email her": the one contact named before.
        named = _contacts_in(text[: body_at.start()] if body_at else text, ctx.contact_names)
        if len(named) == 1:
            slots.attendees = named
    body = _text_after(clean, _BODY)
    if body is None and ":" in clean:  # "Email Carol: the meeting moved"
        body = clean.split(":", 1)[1].strip() or None
    if body is not None:
        body = _CHANNEL.sub("", body).strip(" ?") or None
    if body is not None and re.match(r"(?:about|regarding)\b", body, re.IGNORECASE):
        # "message Bob by email about the invoice": after the channel, what it is about.
        body = None
    subject_m = re.search(
        r"\b(?:about|regarding|(?<!')re|with (?:the )?subject(?: line)?|subject(?: line)?)[:,]?"
        r"\s+(.+?)"
        rf"(?={_BODY}|$)",
        clean,
        re.IGNORECASE,
    )
    if subject_m:
        subject = _CLAUSE_END.split(subject_m.group(1), maxsplit=1)[0]
        # "subject budget and the body ...": the words joining subject and body are neither.
        subject = re.sub(r"(?:[ ,]+(?:and|the|with|a|an|then))+\s*$", "", subject)
        slots.subject = subject.strip(" ,.:?!") or None
    if body is not None:
        # "saying I'll ring you later, actually don't send it": the marker of a change of mind
        # belongs to what follows, not to the message.
        body = _TRAILING_MARKER.sub("", body) or None
    slots.text = _one_sentence(body)


def _strip_lead(text: str | None, lead: str, after_lead_in: bool = True) -> str | None:
    """``text`` without its command words ``lead`` (a ``^`` pattern), also after a lead-in."""
    if text is None:
        return None
    regex = re.compile(lead, re.IGNORECASE)
    for k in _lead_offsets(text) if after_lead_in else [0]:
        m = regex.search(text[k:])
        if m is not None and m.end() > 0:
            stripped = text[k + m.end() :].strip(" :,.-")
            return stripped or None
    return text.strip(" :,.-") or None


# "look up the garage code in my notes": what is looked for sits between verb and "notes".
_IN_NOTES = re.compile(
    r"\b(?:find|look up|look for|search for|check|get|pull up|read|dig up)\s+(.+?)\s+(?:in|from"
    r"|among|through) (?:my |the )?notes\b",
    re.IGNORECASE,
)


_WHERE_NOTED = re.compile(
    r"^(?:where|when) (?:did|have) i (?:note|noted|write|written|jot|jotted|save|saved|put|keep"
    r"|kept)(?: down)? (.+)$",
    re.IGNORECASE,
)


# "the note where I wrote down the gate code", "search notes parking": what was kept.
_NOTE_HOLDING = re.compile(
    r"\bnotes? (?:where|in which|that|with) i (?:wrote|noted|jotted|saved|put|kept|made|have)"
    r"(?: down)? (.+)$|^(?:search|check|scan|go through|look through)(?: in| through)?"
    r" (?:my |the )?"
    r"notes (?:for )?(.+)$",
    re.IGNORECASE,
)


# "what's the flight number I saved": the thing asked for, then how it was kept.
_WHAT_NOTED = re.compile(
    r"^what(?:'s| is| was| were) (?:the |my )?(.+?) (?:i|i've|i have) (?:saved|noted"
    r"|wrote(?: down)?|jotted(?: down)?|written down|put down)\s*[?.!]*$",
    re.IGNORECASE,
)


# "about the plumber, can you find it": the request after the topic is not part of it.
_ASKED_BACK = re.compile(r",?\s*(?:can|could|would|will) you\b.*$|,\s*(?:please )?find it\b.*$")


# After the words to keep, a new sentence is the caller talking about them: "... the bus to
# the hospital? I have to go there soon."
_AFTER_SENTENCE = re.compile(rf"{SENTENCE_MARK}\s+(?=[A-Z]|i\b).*$", re.DOTALL)


def _one_sentence(text: str | None) -> str | None:
    """``text`` up to the end of its first sentence (a full stop kept, a question mark not)."""
    if text is None:
        return None
    text = text.lstrip(" ?.!,:")
    cut = _AFTER_SENTENCE.search(text)
    if cut is not None:
        text = text[: cut.start() + 1]
    return text.rstrip(" ,?!") or None


def _free_text(u: Utterance, intent: Intent, slots: Slots) -> None:
    """The free-text slot of a note, memory or search, ending with its sentence."""
    _free_text_of(u, intent, slots)
    slots.text = _one_sentence(slots.text)


def _free_text_of(u: Utterance, intent: Intent, slots: Slots) -> None:
    clean = u.clean
    if intent is Intent.NOTES_SAVE:
        add = re.match(
            r"^(?:add|put) (?!down\b)(.+?) (?:to|on|in) (?:my |the )?((?:shopping |grocery "
            r"|to-?do )?list|"
            r"notes"
            r"|reminders)\b",
            clean,
            re.IGNORECASE,
        )
        if add and add.group(1).lower() in ("this", "that", "it", "these", "the following"):
            # "put this in my notes: renew the gym": what follows the notes is the note.
            slots.text = clean[add.end() :].strip(" :,.-") or None
            return
        if add:
            slots.text = add.group(1).strip()
            return
        slots.text = _strip_lead(
            clean,
            r"^(?:(?:take|make|write|jot|add|save|create|leave|record|keep|put|log)(?: down)? "
            r"(?:a |me a |"
            r"this |that |the |another |one )?(?:quick |new |short |little )?(?:note|notes|memo|"
            r"reminder"
            r"|to-?do|todo)(?: in| down)?"
            r"|(?:add|put|save|write|jot|stick|stash|pop|throw)(?: down)? (?:this |that |it )?"
            r"(?:to|in|into|on) (?:my |the )?(?:notes?|to-?do(?: list)?|to do(?: list)?|list)"
            r"|(?:save|store|record|keep) (?:that|this)(?=:? \w+ \w)"
            r"|(?:a|an|another) (?:quick |short |new )?(?:note|memo)"
            r"|(?:save|keep|store) (?:this|that|it)"
            r" (?:as a note|in my notes)"
            r"|new note|note to self|note down"
            r"|(?:write|jot|note|take|put|get|scribble)(?: (?:this|that|it"
            r"|something|these|a few things|some things))? down(?: for me)?|put down"
            r"|take this down|remind me(?: (?!to\b)[^,]{1,30}? to\b| that| about)?"
            r"|(?:don't|do not) let me forget(?: to)?|remember|note"
            r"|record)\b"
            r"(?: (?:that"
            r"|saying|to say|of|called|titled|named|"
            r"about|for"
            r" me|to))?(?: please)?[:,]?\s*",
        )
    elif intent is Intent.NOTES_SEARCH:
        m = re.search(
            r"\b(?:about|on|for|regarding|mentioning|mentions?|with|containing|called|titled"
            r"|from)\s+(.+)$",
            clean,
            re.IGNORECASE,
        )
        inside = (
            _IN_NOTES.search(clean)
            or _WHERE_NOTED.search(clean)
            or _WHAT_NOTED.search(clean)
            or _NOTE_HOLDING.search(clean)
        )
        if m is None and inside is not None:
            kept = next(g for g in inside.groups() if g is not None)
            slots.text = kept.strip(" ?.!") or None
            return
        found = m.group(1).strip(" ?.!") if m else None
        if found:
            found = re.sub(
                r"^(?:(?:the|my|a|any) )?(?:anything|something|stuff|notes?|thing)\s+(?:about|on"
                r"|regarding)\s+",
                "",
                found,
            )
        found = _ASKED_BACK.sub("", found or "")
        slots.text = re.sub(r"\s+(?:in|from|among) (?:my |the )?notes$", "", found) or None
    elif intent is Intent.MEMORY_REMEMBER:
        slots.text = _strip_lead(
            clean,
            r"^(?:please )?(?:remember(?: for me)?|keep in mind|bear in mind|don't forget"
            r"|do not forget"
            r"|you should know|know(?: that)?|want you to know(?: that)?"
            r"|keep track of(?: the fact)?|commit (?:this |that |it )?to memory"
            r"|(?:add|save|put|store) (?:this |that |it )?(?:to|in) (?:your )?memory"
            r"|(?:note |remember )?for (?:the )?future(?: reference)?(?:,? (?:please )?remember)?"
            r"|(?:store|save|keep|record|log|note) the fact"
            r"|for the record|note that"
            r"|for your information|fyi|just so you know|just so you(?:'re| are) aware"
            r"|memori[sz]e|commit (?:this|that|it) to"
            r" memory)\b(?: (?:for (?:next time|later|the future|future reference)|going forward"
            r"|from now on))?(?: (?:that|this|the fact that))?[:,]?\s*",
        )
        said_first = re.match(
            r"^(.+?)[ ,.]+(?:so )?(?:please )?(?:(?:remember|keep in mind) (?:that|this)"
            r"|(?:keep|bear) (?:that|this|it) in mind)(?: (?:from now on|going forward|for the"
            r" future|for later|for next time))?[.!]?$",
            clean,
            re.IGNORECASE,
        )
        if said_first:
            # "I prefer window seats, remember that": what to keep was said first.
            slots.text = _strip_lead(
                said_first.group(1),
                r"^(?:just so you know|fyi|for your information|for the record)[:,]?\s*",
                False,
            )
    elif intent is Intent.MEMORY_FORGET:
        rest = _strip_lead(
            clean,
            r"^(?:please )?(?:forget|delete|erase|remove|drop|wipe|clear|scrub|don't remember"
            r"|stop remembering|clear (?:your )?memory of"
            r"|unlearn|(?:you )?(?:don't|do not) (?:need|have) to remember|no longer remember"
            r"|(?:i )?(?:don't|do not) want you to remember)\b"
            r"(?: (?:what i (?:just )?(?:said|told you)|everything i (?:said|told you)"
            r"|(?:all|any) (?:of )?(?:the |my |your )?memor(?:y|ies)"
            r"|(?:what|whatever|everything|anything|all) you (?:know|remember|have"
            r"|(?:'ve|have) (?:got|saved"
            r"|stored))|(?:the |your )?memor(?:y|ies)(?: of)?|everything"
            r"|anything|(?:all )?(?:that |the |this )?(?:thing|things|stuff|info|information"
            r"|details)))?(?: (?:about|regarding|of|on))?\s*",
        )
        if rest is not None and re.match(rf"{_NEWEST}[^,]*$", rest, re.IGNORECASE):
            rest = None  # the newest memory, as for "forget that"
        if rest is not None:
            rest = re.sub(r"\s+(?:anymore|any more|now)$", "", rest).strip() or None
        if rest is not None:
            rest = re.sub(r"\s+(?:from|in|out of) (?:your |my )?memor(?:y|ies)[.!]?$", "", rest)
        if rest is not None:
            # "the blue Honda, I sold it": the reason after the topic is not part of it.
            rest = re.sub(
                r",\s*(?:i|it|we|since|because|as|that's|it's)\b.*$", "", rest, flags=re.I
            )
        if rest is not None:
            # "the shellfish thing": the topic, without the word that points at it.
            rest = re.sub(r"^(?:the|my) (.+) (?:thing|stuff|business|bit)[.!]?$", r"\1", rest)
        if rest is not None and re.fullmatch(r"(?:me|myself)[.!]?", rest, re.I):
            rest = None
        if rest is not None and re.fullmatch(
            r"(?:that|this|it|what i (?:just )?said)[.!]?", rest, re.I
        ):
            rest = None
        rest = rest.strip(" ?.!") if rest else None
        slots.text = _strip_lead(rest, r"^(?:the fact that|that)\s+", False) if rest else None


_WITH_ME = re.compile(
    r"\b(?:do|are|is|can|could|when can|when are|both|all)\s+(?:both\s+)?([a-z' ,]+?) and (?:i|me)"
    r"\b|^([a-z']+(?: [a-z']+)?) and (?:i|me)\b"
)


def _meeting_slots(u: Utterance, intent: Intent, cue_end: int, ctx: ParseContext) -> Slots:
    now = ctx.now
    if intent is Intent.CALENDAR_MOVE and " instead of " in u.numeric:
        # "at 4 instead of 3": the new time first, then the one it replaces.
        new, _, old = u.numeric.partition(" instead of ")
        after, before = find_when(new, now), find_when(old, now)
        # "instead of 3": after "instead of" a bare number is the old time.
        before.time = before.time or find_when(f"at {old}", now).time
        bare_new = re.search(r"\b(\d{1,2}(?::\d{2})?)\s*$", new)
        if after.time is None and bare_new:
            after.time = find_when(f"at {bare_new.group(1)}", now).time
        before.spans = [(s + len(new) + 12, e + len(new) + 12) for s, e in before.spans]
        spans = before.spans + after.spans
        slots = Slots(
            date=before.date,
            time=before.time,
            new_date=after.date,
            new_time=after.time,
        )
    elif intent is Intent.CALENDAR_MOVE:
        before, after = find_when_split(u.numeric, now, _MOVE_TO)
        spans = before.spans + after.spans
        slots = Slots(
            date=before.date,
            time=before.time,
            new_date=after.date,
            new_time=after.time,
            duration_minutes=before.duration_minutes,
            part_of_day=after.part_of_day or before.part_of_day,
        )
        lone_date = after.date is None and after.time is None and before.time is None
        if lone_date and before.date and re.search(r"\bto\b", u.numeric):
            # "move my meeting to Friday": a lone date after the verb is where it goes.
            slots.new_date, slots.date = before.date, None
        if after.date is None and after.time is None and re.search(r"\binstead\s*$", u.numeric):
            # "can the coffee happen on Thursday instead": what is said is the new slot.
            slots.new_date, slots.new_time = before.date, before.time
            slots.date = slots.time = None
    else:
        when: When = find_when(u.numeric, now)
        spans = when.spans
        slots = Slots(
            date=when.date,
            date_to=when.date_to,
            time=when.time,
            duration_minutes=when.duration_minutes,
            part_of_day=when.part_of_day,
        )
    text = _cut(u.numeric, spans)
    others = re.sub(r"\b(?:me|myself|us) and\b|\band (?:me|myself)\b", " ", text)
    slots.attendees = _people_after(
        others,
        r"(?:with|and invite|invite|inviting|between|^meet|^see|am i (?:seeing|meeting))",
        ctx.contact_names,
    )
    together = re.search(
        r"\b(?:when(?:'s| are| is| can)|^is|^are) (.+?) (?:both |all |and i )?(?:free|available|"
        r"open|meet)\b",
        text,
    )
    together = together or re.search(
        r"\b(?:if|whether) ([a-z' ]+?) (?:is|are) (?:both |all )?(?:free|available|open)\b", text
    )
    if intent is Intent.CALENDAR_FREE and not slots.attendees and together:
        slots.attendees = _names(together.group(1), ctx.contact_names)
    owner = re.search(r"\b([a-z]+)'s (?:calendar|diary|schedule)\b", text)
    if intent is Intent.CALENDAR_BOOK and not slots.attendees and owner:
        # "get me on Erin's calendar": a meeting with the calendar's owner.
        slots.attendees = _names(owner.group(1), ctx.contact_names)
    if intent in (Intent.CALENDAR_FREE, Intent.CALENDAR_BOOK) and not slots.attendees:
        # "do Karl and I have any overlap", "Karl and I need a meeting": the others and me.
        both = _WITH_ME.search(text)
        if both:
            slots.attendees = _names(both.group(1) or both.group(2), ctx.contact_names)
    if intent is Intent.CALENDAR_FREE and ctx.contact_names:
        # Finding time acts on no one: the contacts named are the people to find time with
        # ("when's the soonest I can meet Karl": Karl, not "soonest").
        known = {n.lower() for c in ctx.contact_names for n in (c, c.split()[0])}
        named = [a for a in slots.attendees if a.lower() in known]
        slots.attendees = named or _contacts_in(text, ctx.contact_names)
    if intent is Intent.CALENDAR_FREE and not slots.attendees:
        # The caller is always in a free-time search: "me and Karl" is Karl.
        others = re.sub(r"\b(?:me|myself|i) and\b|\band (?:me|myself|i)\b", " ", text)
        slots.attendees = _people_after(others, r"(?:for|when|meet|see)", ctx.contact_names)
    asked = _ASKED_MEETING.search(text) if intent is Intent.CALENDAR_LIST else None
    if asked:
        # "when is my dentist appointment": the meeting asked about, by what it is.
        # "the budget thing again": the words that point at it are not what it is.
        slots.title = _POINTING.sub("", asked.group(1).strip()) or None
    elif intent is Intent.CALENDAR_LIST:
        # "what time does the budget review start": a question about one meeting, by name.
        slots.title = _meeting_title(text, len(text), intent)
    if slots.title is not None or intent in (
        Intent.CALENDAR_BOOK,
        Intent.CALENDAR_CANCEL,
        Intent.CALENDAR_MOVE,
    ):
        slots.title = slots.title or (
            _meeting_title(text, cue_end, intent) or _object_title(text) or _with_thing(text)
        )
        if slots.title is None and intent is Intent.CALENDAR_BOOK:
            purpose = _TRAILING_PURPOSE.search(text)
            slots.title = purpose.group(1) if purpose else None
        if intent is Intent.CALENDAR_BOOK and not slots.attendees and ctx.contact_names:
            # "make time for me and Karl": contacts named without "with" are still invited.
            slots.attendees = _contacts_in(text, ctx.contact_names)
        if slots.title is not None:
            # "meet Carol for coffee": the people are not what the meeting is.
            people = {w for a in slots.attendees for w in a.lower().split()}
            people |= {"me", "us", "and", "myself", "i", "with", "all", "everything", "same", "my"}
            firsts = {c.split()[0].lower(): c.split()[0] for c in ctx.contact_names}
            # "Karl's meeting": a possessive names the person too.
            said = [w.removesuffix("'s") for w in slots.title.split()]
            named = [firsts[w] for w in said if w in firsts]
            if named and not slots.attendees:
                # "move the Grace meeting": the person it is with, not what it is.
                slots.attendees = named
                people |= set(firsts)
            words = [w for w in said if w not in people]
            # "for a call with Erin": a generic noun alone names nothing.
            if all(w in GENERIC_HEADS for w in words):
                words = []
            slots.title = " ".join(words) or None
    if intent is Intent.CALENDAR_MOVE and slots.new_time is None and "same time" in text:
        slots.new_time = slots.time
    return slots


# "when is the budget review", "is the team standup still on": one meeting, named.
_ASKED_MEETING = re.compile(
    r"^(?:(?:when|what time|what day)(?:'s| is| s| was) (?:(?:my|the|our) )?|is (?:my|the|our) )"
    r"(?!(?:my|the|our|next|first|last|earliest|latest|day|week|morning|afternoon|evening|calendar"
    r"|schedule|agenda|it|that|this|there|anything|everything)\b)([a-z][a-z'\- ]*?)"
    r"(?: (?:meeting|appointment|appt|call|session|event)s?)?"
    r"(?: (?:with|on|at|in|still|happening|scheduled|going ahead|booked|planned)\b.*)?\s*$"
)
_POINTING = re.compile(r"(?: (?:thing|stuff|again|please|then))+$")
# "... forward to ten", "... to 4 pm": where a meeting goes, which anchors a move.
_DESTINATION = re.compile(r"\b(?:to|till|until) (?:\d+|noon|tomorrow|today|next|\w+day)\b")


def _names_meeting(u: Utterance, ctx: ParseContext) -> bool:
    """Whether the turn names a meeting: a meeting noun or a clock time, said with a day, a
    time or what the meeting is."""
    specific = KIND_SAID.search(u.numeric)
    head = specific or re.search(
        r"\b(?:meeting|call|appointment|appt|event|session)s?\b|\d (?:am|pm|o'clock)\b", u.numeric
    )
    when = find_when(u.numeric, ctx.now)
    return head is not None and bool(when.date or when.time or specific)


def _answer_slots(u: Utterance, ctx: ParseContext) -> Slots:
    """Slots of a turn with no command cue: the answer to a question the agent asked."""
    when = find_when(u.numeric, ctx.now)
    slots = Slots(
        date=when.date,
        date_to=when.date_to,
        time=when.time,
        duration_minutes=when.duration_minutes,
        part_of_day=when.part_of_day,
    )
    rest = _cut(u.numeric, when.spans)
    people = _people_after(rest, r"(?:with|to)", ctx.contact_names)
    if not people and len(rest.split()) <= 4:
        people = _names(
            re.sub(r"^(?:the one (?:with|for)|just|only|oh|yes|yeah|no)\s+", "", rest.strip()),
            ctx.contact_names,
        )
    slots.attendees = _written_as_names(people[:5], u.raw, ctx.contact_names)
    slots.text = u.clean or None
    return slots


def _abstain(u: Utterance, ctx: ParseContext, confidence: float) -> Command:
    """No command: the model reads the turn (with what it said), or the caller is asked."""
    return Command(
        intent=Intent.NOT_UNDERSTOOD,
        slots=_answer_slots(u, ctx),
        confidence=round(min(confidence, _UNSURE), 3),
    )


# "how do I cancel a meeting", "what would it take to move it": how to, not an order.
_HOW_TO = re.compile(
    r"^(?:how (?:do|can|would|should|could) (?:i|we|one)|how to|what would it take to"
    r"|what do i (?:need to )?(?:do|say) to|is it possible to|is there a way to)\b"
)
_POLITE_ASK = re.compile(r"(?:is it|would it be) possible (?:for you )?to\b")
# "Email? No.": the caller says no to the action they name.
_REFUSED = re.compile(r"\?\s*(?:no|nope|nah)\b", re.IGNORECASE)
_CAPABILITY = re.compile(r"^\W*(?:can|could|do|are|will) you\b", re.IGNORECASE)
_GENERIC_OBJECT = re.compile(
    r"\b(?:meetings|e-?mails|appointments|events|messages)\b(?! (?:with|on|at))"
)
# "get together with Bob sometime Thursday": no time said, so the time is still to be found.
_VAGUE_TIME = re.compile(
    r"\b(?:sometime|some time|at some point|whenever|a good time|a time that works)\b"
)
_CANCEL_WORD = re.compile(r"\b(?:cancel|call off|delete|remove|scrap|drop)\b")
_CALLED_OFF = re.compile(r"[ ,]+(?:but |so |oh )?(?:never ?mind|forget it|don't bother)\s*$")
_SENT_NOTE = re.compile(r"^(?:send|shoot|drop|mail|e-?mail)\b.*\bnote\b|\bby e-?mail\b")
_SAVE_NOTE = re.compile(
    r"\b(?:store|save|make|take|write|add|jot|create|leave|keep|record)"
    r" (?:(?:this|that|it) (?:as|in) )?(?:a |an |another |this |my )?"
    r"(?:quick |new |short )?notes?\b(?! (?:of mine|i|you))"
)
_FREE_WORD = re.compile(
    r"\b(?:free|window|gap|gaps|opening|openings|availability|available|breathing room)\b"
)
_WHO_AM_I_MEETING = re.compile(r"\bwho (?:am i|i'm|i am|are we|we're) (?:meeting|seeing)\b")
_RECALL_QUESTION = re.compile(r"^(?:what|which|do you|did i|have i|what's|whats|anything)\b")


def _specific(u: Utterance, ctx: ParseContext, said: When) -> bool:
    """Whether the turn names a day, a time, a contact or one meeting: "is it possible to
    call off the budget review?" asks for it to be done, "is it possible to cancel a
    meeting?" how it is done."""
    return bool(
        said.date
        or said.time
        or _contacts_in(u.numeric, ctx.contact_names)
        or re.search(r"\b(?:the|my|our)\b", u.numeric)
    )


def _refine(u: Utterance, intent: Intent, ctx: ParseContext, said: When) -> Intent:
    """The intent a reading's wording narrows to: a how-to question is help, a booking with
    no time said (``said``: the turn's dates and times) is a search for one, a question about
    what is remembered lists it."""
    if intent in _RISKY and _HOW_TO.search(u.numeric) and not _specific(u, ctx, said):
        return Intent.HELP
    if (
        intent in _RISKY
        and _CAPABILITY.search(u.raw)
        and _GENERIC_OBJECT.search(u.numeric)
        and not (said.date or said.time or _contacts_in(u.numeric, ctx.contact_names))
    ):
        # "can you cancel meetings?": what Baton can do, not an order.
        return Intent.HELP
    if intent is Intent.CALENDAR_BOOK and _WHO_AM_I_MEETING.search(u.numeric):
        # "any idea who I'm meeting on Friday": who is on the calendar, not a new meeting.
        return Intent.CALENDAR_LIST
    if intent is Intent.CALENDAR_BOOK and " instead of " in u.numeric:
        # "make lunch 1 instead of 12": something already planned gets a new time.
        return Intent.CALENDAR_MOVE
    if intent is Intent.CALENDAR_BOOK and _VAGUE_TIME.search(u.numeric) and said.time is None:
        return Intent.CALENDAR_FREE
    if intent is Intent.NOTES_SAVE and _SENT_NOTE.search(u.numeric):
        # "send a thank you note to Carol by email": a note that is sent is a message.
        return Intent.EMAIL_SEND
    if intent is Intent.NOTES_SAVE and re.match(
        r"(?:read|show|list|find|pull up|open|did i|have i|do i)\b", u.numeric
    ):
        # "read back my last note", "did I make a note about...": a note to look at.
        return Intent.NOTES_SEARCH
    if (
        intent is Intent.NOTES_SEARCH
        and _SAVE_NOTE.search(u.numeric)
        and not re.match(r"(?:did|have|do) i\b", u.numeric)
    ):
        # "store a note about the car insurance": a note about something, to be kept.
        return Intent.NOTES_SAVE
    if intent is Intent.CALENDAR_LIST and _FREE_WORD.search(u.numeric):
        # "have I got anything free this evening", "a twenty minute window": time to find.
        return Intent.CALENDAR_FREE
    if intent is Intent.MEMORY_REMEMBER and _RECALL_QUESTION.search(u.numeric):
        return Intent.MEMORY_LIST
    return intent


def _cue_scores(u: Utterance, ctx: ParseContext) -> list[tuple[float, Intent, Hit]]:
    """Readings from verb and object cues wherever they are in the turn (a risky one is sure
    only when a day, a time, a person or one meeting anchors it)."""
    answer = _answer_slots(u, ctx)
    anchored = bool(
        answer.date
        or answer.time
        or answer.attendees
        or _contacts_in(u.numeric, ctx.contact_names)
        or _DESTINATION.search(u.numeric)
        or KIND_SAID.search(u.numeric)
    )
    return [
        (c, i, Hit(*span))
        for c, i, span in score_cues(u.numeric, anchored)
        if not (i in _NEGATABLE and _negated(u.numeric, span[0]))
    ]


def parse(text: str, ctx: ParseContext) -> Command:
    """The command ``text`` asks for, with its slots normalised against ``ctx.now``.

    Confidence ``>= CONFIDENT`` means act on it; below, let a model decide. Empty input,
    noise and rambling are a confident ``NOT_UNDERSTOOD``; requests Baton cannot serve are
    ``OUT_OF_SCOPE``.
    """
    u = normalise(text or "")
    if not u.clean:
        if re.search(r"\bthank", u.raw, re.IGNORECASE):  # "thanks": nothing more to do
            return Command(intent=Intent.CANCEL_TASK, confidence=0.9)
        return Command(intent=Intent.NOT_UNDERSTOOD, confidence=0.95)
    scored = _score(u.numeric)
    if not scored and not u.too_long:
        # No declared phrasing: read the verb and object cues wherever they are.
        scored = _cue_scores(u, ctx)
    elif (dictated := _DICTATED.search(u.numeric)) and all(
        s[2].start > dictated.start() for s in scored
    ):
        # "write Mateo an email saying please cancel the call": the phrasings found are all
        # in the message; what opens it may be a cue no phrasing declares.
        scored = [*scored, *(s for s in _cue_scores(u, ctx) if s[2].start < dictated.start())]
    if _FORGET_NEWEST.match(u.numeric):
        return Command(intent=Intent.MEMORY_FORGET, confidence=0.9)
    if (kept := _KEEP_THAT.match(u.numeric)) is not None:
        scored = [
            s
            for s in [*scored, *_cue_scores(u, ctx)]
            if s[1] is Intent.MEMORY_REMEMBER and s[2].start < kept.end()
        ]
    if not scored and _gibberish(u.numeric) and not _answer_slots(u, ctx).time:
        return Command(intent=Intent.NOT_UNDERSTOOD, confidence=0.95)
    if u.too_long:
        # A long dictation is fine when it opens with a note or email; rambling is not a command.
        keep = [
            s
            for s in scored
            if s[2].start < 40
            and s[1] in (Intent.NOTES_SAVE, Intent.EMAIL_SEND, Intent.EMAIL_DRAFT)
        ]
        if not keep:
            return Command(intent=Intent.NOT_UNDERSTOOD, confidence=0.9)
        scored = keep
    if not scored:
        slots = _answer_slots(u, ctx)
        question = bool(_QUESTION.search(u.numeric)) or u.raw.rstrip().endswith("?")
        return Command(
            intent=Intent.NOT_UNDERSTOOD, slots=slots, confidence=0.3 if question else 0.5
        )
    scored = _outside_dictation(u.numeric, scored)
    if _compound(u.numeric, scored):
        return _abstain(u, ctx, _UNSURE)
    confidence, intent, hit = scored[0]
    later = next(
        (
            s
            for s in scored
            if s[1] is not Intent.OUT_OF_SCOPE
            and any(hit.end <= m.end() <= s[2].start for m in _CLAUSE_LEAD.finditer(u.numeric))
        ),
        None,
    )
    if intent is Intent.OUT_OF_SCOPE and later is not None:
        # "it will pour with rain on Saturday, so cancel the picnic": the weather is the
        # reason, the request comes after it.
        confidence, intent, hit = later
    if intent is Intent.OUT_OF_SCOPE and _SAVE_NOTE.search(u.numeric, 0, hit.start):
        # "save this as a note, shopping list, bread": a note that names a list is a note.
        confidence, intent = max(confidence, CONFIDENT), Intent.NOTES_SAVE
    if len(scored) > 1 and scored[1][0] >= confidence - 0.02 and scored[1][1] is not intent:
        rival, rival_hit = scored[1][1], scored[1][2]
        if (
            hit.start > rival_hit.start
            and hit.end <= rival_hit.end
            and Intent.OUT_OF_SCOPE not in (intent, rival)
        ):
            # "let Hannah know that ...": a phrase inside a longer one is part of it.
            confidence, intent, hit = scored[1]
            rival, rival_hit = scored[0][1], scored[0][2]
        nested = hit.start < rival_hit.start and rival_hit.end <= hit.end
        related = (
            nested
            or {intent, rival} <= _MEETING_INTENTS
            or {intent, rival}
            <= {
                Intent.EMAIL_SEND,
                Intent.EMAIL_DRAFT,
            }
        )
        if {intent, rival} == {Intent.CALENDAR_CANCEL, Intent.CANCEL_TASK} and _names_meeting(
            u, ctx
        ):
            # "the standup on Wednesday, cancel it": "it" is the meeting just named.
            intent, related = Intent.CALENDAR_CANCEL, True
            hit = next(s[2] for s in scored if s[1] is intent)
        if {intent, rival} == {Intent.MEMORY_FORGET, Intent.CANCEL_TASK} and re.search(
            r"\bforget (?:about )?it\b", u.numeric
        ):
            # "forget it" drops what is under way; no memory is named.
            intent, related = Intent.CANCEL_TASK, True
            hit = next(s[2] for s in scored if s[1] is intent)
        if not related and Intent.OUT_OF_SCOPE not in (intent, rival):
            confidence -= 0.1
    if (
        intent is Intent.CANCEL_TASK
        and hit.start > 0
        and re.match(r"(?:cancel|call off) that\b", u.numeric[hit.start :])
        and _names_meeting(u, ctx)
    ):
        # "Karl's meeting on the 14th, cancel that": "that" is the meeting just named.
        intent, confidence = Intent.CALENDAR_CANCEL, max(confidence, CONFIDENT)
    if (intent in _MEETING_INTENTS or intent is Intent.EMAIL_SEND) and _FORBIDDING.search(
        u.numeric
    ):
        return _abstain(u, ctx, _UNSURE)
    said = find_when(u.numeric, ctx.now)
    # "is it possible to call off the budget review": a polite request, not a question.
    polite_ask = bool(_POLITE_ASK.match(u.numeric)) and _specific(u, ctx, said)
    if intent in _RISKY and (
        _REFUSED.search(u.raw)
        or _NOT_A_REQUEST.search(u.numeric)
        or _HEDGE.search(u.numeric)
        or (_ASKING.search(u.numeric) and not polite_ask)
        or _THIRD_PARTY.search(u.numeric)
    ):
        # A question about how, or a report of what happened, is not an order to act.
        confidence = min(confidence, _UNSURE)
    if intent is Intent.MEMORY_FORGET and _names_meeting(u, ctx) and (said.date or said.time):
        # "forget the team sync on Friday, cancel it": a meeting, not a memory.
        if _CANCEL_WORD.search(u.numeric):
            intent = Intent.CALENDAR_CANCEL
        else:
            confidence = min(confidence, _UNSURE)
    if intent is not Intent.CANCEL_TASK and _CALLED_OFF.search(u.numeric):
        # "I was going to email Zoe but never mind": the last word drops the request.
        return Command(intent=Intent.CANCEL_TASK, confidence=CONFIDENT)
    refined = _refine(u, intent, ctx, said)
    if refined is Intent.HELP and intent is not Intent.HELP:
        confidence = max(confidence, CONFIDENT + 0.1)
    intent = refined
    if intent in _MEETING_INTENTS:
        slots = _meeting_slots(u, intent, hit.end, ctx)
        if intent is not Intent.CALENDAR_LIST and (slots.date or slots.time or slots.attendees):
            confidence = min(1.0, confidence + 0.03)
    elif intent in (Intent.EMAIL_SEND, Intent.EMAIL_DRAFT):
        slots = Slots()
        _email_slots(u, slots, ctx)
    else:
        slots = Slots()
        _free_text(u, intent, slots)
    slots.attendees = _written_as_names(slots.attendees, u.raw, ctx.contact_names)
    if intent in _RISKY and confidence < CONFIDENT:
        # An unsure side effect is not guessed: the model reads the turn, or the caller is asked.
        return _abstain(u, ctx, confidence)
    return Command(intent=intent, slots=slots, confidence=round(min(confidence, 1.0), 3))
