"""Cleaning a turn's text the way speech arrives: fillers, polite wrappers, self-corrections.

Two views come out of one utterance: ``clean`` keeps the words as said (case included) for
free-text slots (a note, an email body), and ``numeric`` is lower case with number words turned
into digits by text2num ("half past two" -> "half past 2") for the date and time grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import alpha2digit

# Longest text the grammar looks at; anything longer is rambling, not a command.
MAX_COMMAND_CHARS = 1000

_FILLERS = re.compile(
    r"\b(?:um+|uh+|erm+|er|hmm+|mm+|ah+|uh-huh"
    r"|(?<!do )(?<!did )(?<!would )(?<!so )you know,?(?! about)|like,"
    r"|i guess|basically|okay so|ok so"
    r"|alright so|so+,|well,|hey baton|baton,|hi baton|hello baton|hey there|hi there)"
    # A filler is a whole word: "er" must not eat the start of "Erin" or "erase".
    r"(?![\w'])\s*",
    re.IGNORECASE,
)
_POLITE = re.compile(
    r"^(?:(?:so|and|oh|okay|ok|alright|right|now|then|also|well|hey|hi|hello|yes|yeah)[, ]+)*"
    r"(?:(?:could|can|would|will) you(?! mind)(?: please)?(?: go ahead and)?|please|kindly"
    # "I wanted to know what I have on Thursday": the question is what follows.
    r"|i (?:just )?(?:wanted|want|need|needed|'d like|would like) to know|let me know"
    r"|do you (?:happen to )?know(?= (?:when|what|who|where|if|whether|how)\b)"
    r"|i(?:'d| would) like (?:you )?to|i want (?:you )?to|i wanna(?: know)?|i need (?:you )?to"
    r"|i'd love (?:you )?to|go ahead and|let's(?! not)|lets(?! not)|i'd like|i would like"
    # "help me find a time" wraps a request; "can you help me" is the request.
    r"|help me(?![ ,.!?]*(?:please|out)?[ ,.!?]*$)"
    r"|would you mind|do you mind|if you (?:don't|do not|wouldn't|would not) mind|you can"
    r"|you should|try to"
    # "I was hoping to grab lunch with Zoe": the hope is the request.
    r"|(?:i was|i'm|i am) hoping (?:to|you (?:could|can|would|'d))|(?:could|can|shall) we"
    r"|i was wondering|i'm wondering|i am wondering"
    # "would it be possible to move my 10 am": a request asked as a question.
    r"|(?:would|will) it be possible(?: for you)? to|would you be able to|are you able to"
    r"|do you think you (?:could|can)|any chance you (?:could|can)|is there any chance you"
    r" (?:could|can)"
    # "I wonder if you would be so kind as to book ...", "if it's no trouble, I'd like to".
    r"|i (?:was )?wonder(?:ing)? (?:if|whether) you (?:could|would|might)(?: possibly| kindly)*"
    r"(?: be so kind as to)?|(?:would you )?be so kind as to|i'd be grateful if you (?:would|could)"
    r"|i'd love it if you (?:could|would)|if it (?:is|'s) not too much (?:to ask|trouble)"
    r"|if it's no trouble|(?:could|would) you possibly|possibly)\b[ ,]*",
    re.IGNORECASE,
)
# Discourse markers that open a turn without changing it ("nah, forget it", "ok so what's on").
# "no" and "yes" are kept: they answer a question and may carry a correction.
_OPENER = re.compile(
    r"^(?:nah|oh|ok|okay|alright|all right|well|so|yeah|right|hmm|hey|actually|anyway|ugh|argh"
    r"|meh|oops|whoops"
    r"|hang on|hold on|wait a (?:sec|second|minute)|one sec"
    r"|and|now)\b[ ,]+(?=\w)",
    re.IGNORECASE,
)
_TRAILING_POLITE = re.compile(r"[ ,]*\b(?:please|thanks|thank you|for me)\s*[.!?]*\s*$", re.I)
# Words that open dictated content (a message, a note) whose closing words are kept.
_DICTATION = re.compile(r"\b(?:saying|say|says|reads|asking|telling)\b|:", re.I)
_TRAILING_PLEASE = re.compile(r"[ ,]*\bplease\s*[.!?]*\s*$", re.I)
_SPACES = re.compile(r"\s+")
_ONE_ON_ONE = re.compile(r"\bone on one\b")
# "(do you know) when the fire drill is": an embedded question about one thing.
_EMBEDDED_WHEN = re.compile(r"^(when|what time|what day) (the|my|our) ([\w' -]+?) (is|was)[?.]*$")
# How a recogniser (or a region) writes a few command words, and what they mean.
_HEARD_AS = (
    (re.compile(r"\b(\d{1,2})[- ]?0 ?clock\b"), r"\1 o'clock"),  # "my 3-0 clock"
    (re.compile(r"\b(\w+) of the clock\b"), r"\1 o'clock"),  # "my three of the clock"
    (re.compile(r"\b(\d{1,2})-0-0\b"), r"\1:00"),  # "is 15-0-0 tomorrow free"
    (re.compile(r"\bhalf path\b"), "half past"),
    (re.compile(r"\bcan cel"), "cancel"),  # "can cel my three o clock"
    (re.compile(r"\bo clock\b"), "o'clock"),
    # A filler "um" at the start is often written "I'm": "I'm what stuff have I told you".
    (
        re.compile(
            r"^i'm (?=(?:what|when|where|who|which|how|can|could|would|will|please|cancel|book"
            r"|send|email|add|take|move|find|search|remember|forget)\b)"
        ),
        "",
    ),
    (re.compile(r"^ascend (?=an? |the )"), "send "),  # "Ascend an email to Mateo"
    (re.compile(r"\bwen('s)?\b"), r"when\1"),  # "Wen's lunch with Grace"
    (re.compile(r"\bwhat times (?=the|my|our|your)\b"), "what time's "),
    (re.compile(r"\bstill one (?=for|at|on|tomorrow|today|this|next)\b"), "still on "),
    # "the stand up", "daily stand ups": the meeting, not the verb.
    (re.compile(r"(?<!\bto )(?<!\bi )(?<!\bwe )(?<!\byou )\bstand ups?\b"), "standup"),
    # Australian English for the afternoon ("what've I got on this arvo").
    (re.compile(r"\barvo\b"), "afternoon"),
    # "the one with Bob", "the one at 4": a meeting named by what it is with, not the number 1.
    (
        re.compile(r"\b(the|that|this) one (?=(?:with|at|on|about|for|from|tomorrow|today)\b)"),
        r"\1 meeting ",
    ),
    # "first thing tomorrow": the start of the day, not the number one.
    (re.compile(r"\bfirst thing(?: in the morning)?\b"), "morning"),
)
# ASR drops apostrophes: "whats on tuesday" is "what's on tuesday".
_HAVE = re.compile(r"\b(what|who|where|how|when)'ve\b")
_CONTRACTION = re.compile(
    r"\b(what|when|where|who|that|it|there|here|how|today|tomorrow|tonight|yesterday)s\b"
)
# "dont forget", "i cant make it", "ive got": a negation or a pronoun without its apostrophe.
_NT = re.compile(
    r"\b(don|can|didn|doesn|isn|wasn|aren|won|couldn|shouldn|wouldn)t\b", re.IGNORECASE
)
_PRONOUN_HAVE = re.compile(r"\b(i|you|we|they)ve\b", re.IGNORECASE)

_CORRECTION = (
    r"(?:[,;.]?\s*(?:no+|nope|sorry|i mean|actually|make (?:that|it)|or rather|rather|wait"
    r"|scratch that|correction|oops)\b[,;.]?\s*)+"
)
# A request started over: "book a table... I mean book a meeting with Sean".
_RESTART = re.compile(
    # "actually", "rather" and "no" mark a restart only after a pause: "what do you actually
    # remember" is one question.
    r"^.+?(?:[,.…]*\s+(?:i mean|no wait|wait no|sorry|scratch that)|[,.…]+\s+(?:actually|rather"
    r"|no))[,.]*\s+"
    r"(?=(?:book|schedule|set up|cancel|move|reschedule|push|email|send|draft|write|add|put"
    r"|remind|remember|note|take|find|forget|what|when)\b)",
    re.IGNORECASE,
)
_HOUR = r"(?:\d{1,2}(?:[: ]\d{2})?(?:\s*(?:am|pm|a\.m\.|p\.m\.|o'?\s?clock))?|noon|midnight"
_HOUR += r"|(?:half|quarter) (?:past|to) \d{1,2})"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_DAY = (
    rf"(?:(?:next |this |on )?{_WEEKDAY}|today|tomorrow|the day after tomorrow"
    r"|(?:on )?the \d{1,2}(?:st|nd|rd|th)?)"
)
# "at ten tomorrow, actually make it eleven": a few words may come between time and correction.
_TIME_FIX = re.compile(
    rf"(?:\bat )?\b{_HOUR}((?:[ ,]+[a-z']+){{0,3}}?){_CORRECTION}(?:at )?({_HOUR})"
    r"(?! ?(?:min|hour|hr|people|days?|weeks?)\b)",
    re.IGNORECASE,
)
_DAY_FIX = re.compile(rf"\b{_DAY}{_CORRECTION}({_DAY})", re.IGNORECASE)
_NAME_FIX = re.compile(
    rf"\b(with|to|email|for),? ([a-z]+){_CORRECTION}(?:(?:with|to) )?([a-z]+)\b", re.IGNORECASE
)


# Whisper writes a spoken "four p m" as "4-P," "4p" or "4 p.m"; "a" alone is an article ("at 3
# a little later"), so a morning needs its "m".
_PM = re.compile(r"\b(\d{1,2}(?::\d{2})?)\s*-?\s*p\b\.?(?:\s*m\b\.?)?")
_AM = re.compile(r"\b(\d{1,2}(?::\d{2})?)\s*-?\s*a\.?\s*m\b\.?")


_HYPHENED_TIME = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)-"
    r"(?=(?:oh|o|ten|fifteen|twenty|thirty|forty|fifty)\b)"
)
_RUN_TOGETHER_TIME = re.compile(
    r"\b(at|my|the|to|from|until|till|by|around|about|your|a) (1?\d|2[0-3])-?([0-5]\d)\b"
    r"(?! (?:people|dollars|bucks|euros|miles|words|times|percent|calories)\b)"
)
# "a meeting 1730 thursday", "friday 930": a clock time written without its colon, beside a day.
_DAY_WORD = r"(?:mon|tues|wednes|thurs|fri|satur|sun|to)day|tomorrow|tonight"
_TIME_BEFORE_DAY = re.compile(
    rf"\b(1?\d|2[0-3])([0-5]\d)\b(?= (?:on |this |next )?(?:{_DAY_WORD})\b)"
)
_TIME_AFTER_DAY = re.compile(rf"\b({_DAY_WORD}) (1?\d|2[0-3])([0-5]\d)\b")
_ISH = re.compile(r"\b(\d{1,2}(?::\d{2})?)\s?-?ish\b")
_AT_LIKE = re.compile(r"\b(?:at|around) (?:like|about|roughly|maybe) (?=\d)")


@dataclass(frozen=True)
class Utterance:
    """One turn's text in the two views the parser reads."""

    raw: str
    clean: str
    numeric: str
    too_long: bool


# "no no, stop": a "no" before stopping words is the stop said twice, not a correction.
_NO_BEFORE_STOP = re.compile(
    r"^(?:no+[,.!]*\s+)+(?=(?:stop|cancel|wait|never ?mind|forget it|don't|abort|enough)\b)",
    re.IGNORECASE,
)


# "would you mind cancelling the review": the request is the verb in its -ing form.
_GERUNDS = {
    "cancelling": "cancel",
    "canceling": "cancel",
    "moving": "move",
    "booking": "book",
    "sending": "send",
    "emailing": "email",
    "scheduling": "schedule",
    "rescheduling": "reschedule",
    "checking": "check",
    "finding": "find",
    "pushing": "push",
    "writing": "write",
    "adding": "add",
    "putting": "put",
    "taking": "take",
    "saving": "save",
    "reading": "read",
    "telling": "tell",
    "looking": "look",
    "setting": "set",
    "drafting": "draft",
    "noting": "note",
    "deleting": "delete",
    "removing": "remove",
    "clearing": "clear",
    "listing": "list",
    "searching": "search",
    "forgetting": "forget",
    "making": "make",
    "creating": "create",
    "blocking": "block",
    "remembering": "remember",
    "shifting": "shift",
    "bumping": "bump",
    "calling": "call",
    "jotting": "jot",
}
_MIND_GERUND = re.compile(
    r"^((?:would|do) you mind|if you (?:don't|do not|wouldn't|would not) mind)[ ,]+"
    rf"({'|'.join(_GERUNDS)})\b",
    re.IGNORECASE,
)


def _base_verb(m: re.Match[str]) -> str:
    return f"{m.group(1)} {_GERUNDS[m.group(2).lower()]}"


def _strip_wrappers(text: str) -> str:
    text = _MIND_GERUND.sub(_base_verb, text)
    previous = None
    while previous != text:
        previous = text
        text = _NO_BEFORE_STOP.sub("", text)
        text = _POLITE.sub("", text).strip(" ,")
        text = _OPENER.sub("", text).strip(" ,")
    if _DICTATION.search(text):  # "saying thank you": the closing words are the message
        return _TRAILING_PLEASE.sub("", text).strip(" ,")
    return _TRAILING_POLITE.sub("", text).strip(" ,")


# "email Aaron, Aaron Katz I mean, about ...": the name said last, then "I mean".
_NAME_FIX_AFTER = re.compile(
    r"\b(with|to|email|for) [a-z]+,? ((?!and\b|or\b)[a-z]+(?: (?!and\b|or\b)[a-z]+)?),? i mean\b,?",
    re.IGNORECASE,
)


def _apply_corrections(text: str) -> str:
    """Keep the second of "at ten, no, eleven" / "Tuesday, sorry, Wednesday", and the second
    request of "book a table, I mean, book a meeting"."""
    text = _RESTART.sub("", text)
    text = _TIME_FIX.sub(lambda m: f"at {m.group(2)}{m.group(1)}", text)
    text = _DAY_FIX.sub(lambda m: m.group(1), text)
    text = _NAME_FIX_AFTER.sub(lambda m: f"{m.group(1)} {m.group(2)}", text)
    return _NAME_FIX.sub(lambda m: f"{m.group(1)} {m.group(3)}", text)


# Courtesies a caller wraps a request in: greetings, hopes, apologies, thanks. Each is a whole
# clause (up to a comma or the end of a sentence); none of them asks for anything.
_COURTESY = (
    r"(?:good (?:morning|afternoon|evening|day)(?: to you)?|hello(?: there)?|hi(?: there)?"
    r"|hey(?: there)?|greetings|dear(?: assistant)?|my dear"
    r"|(?:i )?hope (?:you(?:'re| are)|this|your|all|that|it's|it is)\b[^,.!?]*"
    r"|(?:i'm |i am )?(?:so |terribly |really |very |awfully )?sorry to (?:bother|trouble|ask"
    r"|be|disturb|pester)\b[^,.!?]*"
    r"|(?:i )?(?:do |must )?apologi[sz]e\b[^,.!?]*|excuse me(?: please)?"
    r"|please excuse\b[^,.!?]*|forgive me\b[^,.!?]*|pardon me"
    r"|(?:thank you|thanks|many thanks|cheers|much appreciated|most appreciated"
    r"|you(?:'re| are) (?:a star|an angel|the best|a lifesaver|a life saver|(?:very |so |ever so )?"
    r"(?:kind|patient|helpful|good)))\b[^,.!?]*)"
)
_COURTESY_LEAD = re.compile(rf"^{_COURTESY}\s*[,.!?]*\s*", re.IGNORECASE)
# Closing thanks follow a pause: "... saying thanks for the help" is the message itself.
_COURTESY_TAIL = re.compile(rf"[,.!?]\s*\b{_COURTESY}\s*[,.!?]*\s*$", re.IGNORECASE)
# The end of a sentence of a turn: its mark, unless the mark closes a title ("Dr. Patel").
SENTENCE_MARK = r"(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bSt)[.?!]"
_SENTENCE = re.compile(rf"(?<={SENTENCE_MARK})\s+(?=\S)")


def _without_courtesies(text: str) -> str:
    """``text`` without the greetings, hopes, apologies and thanks around its request:
    "Good morning, I hope you're well. Could you cancel my 3 o'clock? Many thanks." is
    "Could you cancel my 3 o'clock?"."""
    kept: list[str] = []
    for sentence in _SENTENCE.split(text):
        previous = None
        while previous != sentence:
            previous = sentence
            sentence = _COURTESY_LEAD.sub("", sentence)
            sentence = _COURTESY_TAIL.sub("", sentence).strip()
        if sentence.strip(" ,.!?"):
            kept.append(sentence)
    return " ".join(kept) if kept else text


def to_digits(text: str) -> str:
    """Number words to digits ("ten thirty" -> "10 30"); text2num, every number converted."""
    try:
        return str(alpha2digit(text, "en", threshold=0))
    except (ValueError, RuntimeError):  # text2num refuses some oddities: keep the words
        return text


def normalise(raw: str) -> Utterance:
    """The cleaned views of ``raw``; text beyond MAX_COMMAND_CHARS marks the turn too long."""
    too_long = len(raw) > MAX_COMMAND_CHARS
    text = raw[:MAX_COMMAND_CHARS] if too_long else raw
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _SPACES.sub(" ", text).strip()
    # "dont forget", "ive got": the apostrophe a recogniser or a hurried typist left out.
    text = _PRONOUN_HAVE.sub(r"\1've", _NT.sub(r"\1't", text))
    text = _without_courtesies(text)
    text = _FILLERS.sub("", text)
    text = _SPACES.sub(" ", text).strip(" ,")
    text = _strip_wrappers(text)
    # text2num would read "one on one" as numbers; it names a meeting.
    spoken = _ONE_ON_ONE.sub("one-on-one", _HAVE.sub(r"\1 have", text.lower()))
    for misheard, meant in _HEARD_AS:
        spoken = misheard.sub(meant, spoken)
    # "two-thirty": text2num reads a clock time only when its words stand apart.
    spoken = _HYPHENED_TIME.sub(r"\1 ", spoken)
    numeric = _CONTRACTION.sub(r"\1's", to_digits(spoken))
    # "at 1230", "my 930": a clock time written without its colon.
    numeric = _RUN_TOGETHER_TIME.sub(r"\1 \2:\3", numeric)
    numeric = _TIME_BEFORE_DAY.sub(r"at \1:\2", numeric)
    numeric = _TIME_AFTER_DAY.sub(r"\1 at \2:\3", numeric)
    # "at half three" is said for half past three.
    numeric = re.sub(
        r"\b(at|for|to|till|until|around|by|from) half (\d{1,2})\b(?! (?:hours?|minutes?)\b)",
        r"\1 half past \2",
        numeric,
    )
    # "at like 11ish": a hedged hour is still the hour.
    numeric = _ISH.sub(r"\1", _AT_LIKE.sub("at ", numeric))
    numeric = _AM.sub(r"\1 am", _PM.sub(r"\1 pm", numeric))
    numeric = _apply_corrections(numeric)
    # "when the fire drill is": the question in its usual order.
    numeric = _EMBEDDED_WHEN.sub(r"\1 \4 \2 \3", numeric)
    numeric = re.sub(r"[!?\"]+|(?<!\d)[.,;](?!\d)|(?<=\d)[.,;](?!\d)", " ", numeric)
    numeric = re.sub(r"\b(\d{1,2})\.(\d{2})(?!\d)", r"\1:\2", numeric)
    clean = _apply_corrections(text)
    return Utterance(
        raw=raw,
        clean=clean.strip(" ,"),
        numeric=_SPACES.sub(" ", numeric).strip(),
        too_long=too_long,
    )
