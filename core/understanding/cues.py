"""Intent by verb and object cues, for phrasings no declared phrase covers.

A command is mostly a verb from a synonym set ("call off", "scrap", "drop" all cancel) and an
object noun ("meeting", "email", "note"), in any order and with any words between. This scorer
reads those two cues anywhere in the turn; it is the parser's fallback when the phrase grammar
finds nothing. Side-effecting intents score below the parser's acting threshold unless both cues
and a slot anchor them, so an unsure risky reading is asked about rather than acted on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from core.understanding.command import Intent

_MEETING_WORD = (
    r"(?:meeting|call|appointment|appt|event|session|sync|catch ?up|chat|1:1|1 on 1|one on one"
    r"|one-on-one|lunch"
    r"|coffee|dinner|breakfast|standup|stand-up|review|interview|demo|presentation|workshop"
    r"|huddle|check-in|retro|planning|haircut|dentist|doctor|gym|class|lesson|party|zoom"
    r"|touch ?base|offsite|block)s?"
)
# A meeting named by its time ("my 3 o'clock", "the 10") as well as by a noun.
_MEETING_NOUN = rf"(?:{_MEETING_WORD}|\d{{1,2}}(?::\d{{2}})?(?: ?(?:am|pm|o'?clock))?s?)"
_CALENDAR_NOUN = r"(?:calendar|schedule|agenda|diary|plans)"
_EMAIL_NOUN = r"(?:e-?mail|mail|message|reply|note to)"


@dataclass(frozen=True)
class Cue:
    """An intent recognised by a verb and an object anywhere in the turn."""

    intent: Intent
    verb: str
    obj: str
    # Confidence with both cues; a cue with an empty ``obj`` needs only its verb.
    confidence: float
    risky: bool = False

    @cached_property
    def verb_regex(self) -> re.Pattern[str]:
        """The compiled verb cue."""
        return re.compile(rf"\b{self.verb}\b")

    @cached_property
    def obj_regex(self) -> re.Pattern[str] | None:
        """The compiled object cue (None when the verb suffices)."""
        return re.compile(rf"\b{self.obj}\b") if self.obj else None


CUES: tuple[Cue, ...] = (
    Cue(
        Intent.CALENDAR_CANCEL,
        r"(?:cancel|call off|scrap|drop|delete|remove|clear|axe|scratch|kill|nix|get rid of)",
        _MEETING_NOUN,
        0.8,
        risky=True,
    ),
    Cue(
        Intent.CALENDAR_MOVE,
        r"(?:move|push|shift|reschedule|bump|postpone|delay|bring forward|pull forward"
        r"|change the time of|rebook|slide|bring|pull|make (?:my|the|it|that))",
        _MEETING_NOUN,
        0.8,
        risky=True,
    ),
    # "can we do the review on Thursday instead": a new time for something already planned.
    Cue(Intent.CALENDAR_MOVE, r"instead", "", 0.8, risky=True),
    Cue(
        Intent.CALENDAR_FREE,
        r"(?:find|fit in|fit|squeeze|any|is there|are there|do i have|have i got|when (?:can|could)"
        r"|is|am i|are we|check if|what times?|when's|when is)",
        r"(?:gap|gaps|opening|openings|free|open|slot|slots|window|availability|available"
        r"|\d+ (?:minutes?|hours?)|an hour|half an hour|a time|some time|work for)",
        0.8,
    ),
    Cue(
        Intent.CALENDAR_BOOK,
        r"(?:schedule|set up|setup|set|put|arrange|book|add|create|organi[sz]e|plan|pencil"
        r"|block|make (?:a|an|some|time)|new|pop|stick)",
        rf"(?:{_MEETING_NOUN}|(?:on|in|to) (?:my |the |\w+'s )?{_CALENDAR_NOUN}"
        r"|something (?:up )?with|time with)",
        0.8,
        risky=True,
    ),
    # Verbs that book only with a meeting noun ("I need an hour ... find one" is no booking).
    Cue(
        Intent.CALENDAR_BOOK,
        r"(?:need|want|like|get|grab|hold|have|meet|do(?= (?:lunch|coffee|dinner|breakfast"
        r"|drinks)))",
        rf"(?:{_MEETING_WORD}|(?:on|in|to) (?:my |the |\w+'s )?{_CALENDAR_NOUN}|something (?:up )?"
        r"with|time with|(?:\d+ (?:minutes?|mins?|hours?)|an hour|half an hour) with)",
        0.8,
        risky=True,
    ),
    Cue(
        Intent.CALENDAR_LIST,
        r"(?:read|read out|check|show|tell me|what's|what is|what does|what do|what have"
        r"|go over|run through|walk me through|remind me|calendar|schedule|agenda|give me"
        r"|how does|how do|who am i|where am i|is there|anything)",
        rf"(?:{_CALENDAR_NOUN}|meetings|appointments|events|booked|busy|look(?:s|ing)? like"
        r"|(?:got|have|happening) on(?! me\b)|my (?:day|week|morning|afternoon)|rundown"
        r"|look|seeing|meeting|supposed to be|on my plate|lined up)",
        0.8,
    ),
    Cue(
        Intent.EMAIL_DRAFT,
        r"(?:draft|write|prepare|prep|compose|put together)",
        _EMAIL_NOUN,
        0.8,
    ),
    Cue(
        Intent.EMAIL_SEND,
        r"(?:send|shoot|fire off|drop|email|e-mail|mail)",
        r"(?:e-?mail|mail|(?:it|this|that|them) to \w+|\w+ (?:about|saying|that))",
        0.8,
        risky=True,
    ),
    Cue(
        Intent.NOTES_SEARCH,
        r"(?:did i (?:save|note|write)|find|search|look up|look for|what did i (?:save|note|write)"
        r"|do i have)",
        r"(?:notes?|anything|something) (?:about|on|for|regarding|mentioning)",
        0.8,
    ),
    Cue(
        Intent.NOTES_SAVE,
        r"(?:new|save|add|make|take|jot|write)",
        r"(?:note|notes|memo)",
        0.8,
    ),
    Cue(
        Intent.MEMORY_LIST,
        r"(?:what|list|show|tell me|read)",
        r"(?:you (?:remember|know|recall)|you(?:'ve| have)? (?:got )?(?:stored|saved|learned|kept)"
        r"|(?:stored|saved|know|learned) about me"
        r"|memories|saved preferences|my preferences|you have on me|asked you to remember)",
        0.8,
    ),
    Cue(
        Intent.MEMORY_FORGET,
        r"(?:stop remembering|forget|erase|unlearn|wipe|delete|remove|drop)",
        r"(?:that|what you know|what you remember|memory|memories|everything|the thing|about)",
        0.8,
        risky=True,
    ),
    Cue(Intent.MEMORY_FORGET, r"(?:stop remembering|unlearn)", "", 0.8, risky=True),
    Cue(
        Intent.MEMORY_REMEMBER,
        r"(?:remember|keep in mind|bear in mind|note that|take note that|make a note that)",
        "",
        0.78,
    ),
    Cue(
        Intent.HELP,
        r"(?:help|what (?:\w+ ){0,3}can (?:you|i) (?:do|ask|say)|what do i say"
        r"|what (?:commands|things) do you|what you can do|what are you able)",
        "",
        0.8,
    ),
    Cue(
        Intent.CANCEL_TASK,
        r"(?:never ?mind|scrap that|changed my mind|forget it|stop what you're doing|cancel that"
        r"|cancel it|don't do (?:that|it)|drop it|leave it)",
        "",
        0.85,
    ),
    Cue(
        Intent.REPEAT,
        r"(?:say (?:that|it) (?:again|one more time)|repeat|come again|one more time)",
        "",
        0.85,
    ),
    Cue(
        Intent.OUT_OF_SCOPE,
        r"(?:text message|sms|buy|order|capital of|recommend|poem|song|voting|vote"
        r"|\d+ (?:times|plus|minus|divided by) \d+|population of|how tall|how old is)",
        "",
        0.85,
    ),
)

_DETERMINER = re.compile(
    r"\b(?:a|an|the|my|your|our|his|her|their|this|that|these|those|some|any|another) $"
)
# Risky intents from cues alone act only with both cues and an anchoring slot.
_RISKY_UNANCHORED = 0.7


def score_cues(text: str, anchored: bool) -> list[tuple[float, Intent, tuple[int, int]]]:
    """Intents whose cues occur in ``text`` (lower-case numeric view), best first.

    ``anchored`` says the turn names a date, time or person, which a side effect needs
    before it is acted on without a question.
    """
    found: list[tuple[float, Intent, tuple[int, int]]] = []
    for cue in CUES:
        # After "an", "my", "the" a verb cue is a noun: "writing an email" does not say "email".
        verb = next(
            (
                v
                for v in cue.verb_regex.finditer(text)
                if not (cue.obj and _DETERMINER.search(text, 0, v.start()))
            ),
            None,
        )
        if verb is None:
            continue
        obj_regex = cue.obj_regex
        # The object is another word than the verb ("calendar" is not both).
        if obj_regex is not None and obj_regex.search(text, verb.end()) is None:
            if obj_regex.search(text[: verb.start()]) is None:
                continue
            confidence = cue.confidence - 0.05  # object before the verb: a looser reading
        else:
            confidence = cue.confidence
        if cue.risky and not anchored:
            confidence = min(confidence, _RISKY_UNANCHORED)
        found.append((confidence, cue.intent, verb.span()))
    found.sort(key=lambda f: -f[0])
    if len(found) > 1 and found[1][0] >= found[0][0] - 0.02 and found[1][1] is not found[0][1]:
        risky = {c.intent for c in CUES if c.risky}
        if found[0][1] in risky or found[1][1] in risky:
            # Two readings and one has a side effect: let the model or a question decide.
            found[0] = (min(found[0][0], _RISKY_UNANCHORED), found[0][1], found[0][2])
            found.sort(key=lambda f: -f[0])
    return found
