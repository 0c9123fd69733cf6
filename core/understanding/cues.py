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
    r"|one-on-one|one-to-one|1-1|lunch"
    r"|coffee|dinner|breakfast|standup|stand-up|review|interview|demo|presentation|workshop"
    r"|huddle|check-in|retro|planning|haircut|dentist|doctor|gym|class|lesson|party|zoom"
    r"|touch ?base|offsite|block|prep)s?"
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
    # The object alone says what is acted on ("from your memory"): no date or person needed.
    self_anchored: bool = False

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
        r"(?:move|push|shift|switch|swap|change|reschedule|bump|postpone|delay|bring forward"
        r"|pull forward"
        r"|change the time of|rebook|slide|bring|pull|make (?:my|the|it|that))",
        _MEETING_NOUN,
        0.8,
        risky=True,
    ),
    # "Bob and I need to talk Friday at 10": a talk to be had is a meeting to book.
    Cue(
        Intent.CALENDAR_BOOK,
        r"(?:need|have|want|got|ought) to (?:talk|meet|chat|catch up|sync|get together|sit down)",
        "",
        0.78,
        risky=True,
    ),
    # "can we do the review on Thursday instead": a new time for something already planned.
    Cue(Intent.CALENDAR_MOVE, r"instead", "", 0.8, risky=True),
    Cue(
        Intent.CALENDAR_FREE,
        r"(?:find|fit in|fit|squeeze|any|is there|are there|do i have|have i got|when (?:can|could)"
        r"|looking for|look for|carve out|does|what's|what is"
        r"|is|am i|are we|check if|what times?|when's|when is)",
        r"(?:gap|gaps|opening|openings|free|open|slot|slots|window|availability|available"
        r"|\d+ (?:minutes?|hours?)|an hour|half an hour|a time|some time|work for"
        r"|(?:good|ok|okay|fine|doable) for|(?:have|got) (?:any |some )?(?:free )?time\b)",
        0.8,
    ),
    Cue(
        Intent.CALENDAR_BOOK,
        r"(?:schedule|set up|setup|set|put|arrange|book|add|create|organi[sz]e|plan|pencil"
        r"|block|make (?:a|an|some|time)|new|pop|stick|invite)",
        rf"(?:{_MEETING_NOUN}|(?:on|in|to) (?:my |the |\w+'s )?{_CALENDAR_NOUN}"
        r"|something (?:up )?with|time with)",
        0.8,
        risky=True,
    ),
    # Verbs that book only with a meeting noun ("I need an hour ... find one" is no booking).
    Cue(
        Intent.CALENDAR_BOOK,
        r"(?:need|want|like|get|grab|hold|have|meet|do(?= (?:a |an |the )?(?:lunch|coffee|dinner"
        r"|breakfast|drinks|call|meeting|chat|sync|catch ?up|quick)))",
        rf"(?:{_MEETING_WORD}|(?:on|in|to) (?:my |the |\w+'s )?{_CALENDAR_NOUN}|something (?:up )?"
        r"with|time with|(?:\d+ (?:minutes?|mins?|hours?)|an hour|half an hour) with)",
        0.8,
        risky=True,
    ),
    Cue(
        Intent.CALENDAR_LIST,
        r"(?:read|read out|check|show|tell me|what's|what is|what does|what do|what have"
        r"|go over|run through|walk me through|remind me|calendar|schedule|agenda|give me"
        r"|how does|how do|how's|how is|how are|who am i|where am i|is there|anything|am i)",
        rf"(?:{_CALENDAR_NOUN}|meetings|appointments|events|(?:double |over)?booked|busy"
        r"|look(?:s|ing)? like"
        r"|(?:got|have|happening|going) on(?! me\b)|coming up|planned|scheduled|on the books"
        r"|my (?:day|week|morning|afternoon)|rundown"
        r"|look(?:s|ing)?|seeing|meeting|supposed to be|on my plate|lined up)",
        0.8,
    ),
    Cue(
        Intent.EMAIL_DRAFT,
        r"(?:draft|write|prepare|prep|compose|put together|type(?: up)?)",
        # "write something to Priya saying ...": a message by who gets it and what it says.
        rf"(?:{_EMAIL_NOUN}|(?:something |a (?:quick |short )?(?:line|few (?:lines|words)) |back )?"
        r"to [a-z]+(?: [a-z]+)? (?:saying|about|that|and (?:say|tell|ask)))",
        0.8,
    ),
    # "get an email ready for Bob": made, not sent.
    Cue(Intent.EMAIL_DRAFT, r"get", r"(?:e-?mail|message|reply)\b.{0,30}\bready", 0.8),
    # "(I want) an email sent to Grace saying ...".
    Cue(
        Intent.EMAIL_SEND,
        r"(?:^|(?:want|need|like|get) )(?:an? )?(?:e-?mail|message) sent to",
        "",
        0.8,
        risky=True,
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
        r"(?:new|save|add|make|take|jot|write|log)",
        r"(?:note|notes|memo)",
        0.8,
    ),
    # "a note saying buy milk", "save this: the locker code is 456".
    Cue(
        Intent.NOTES_SAVE,
        r"(?:^(?:a|an|another) (?:quick |short |new )?(?:note|memo)|^(?:save|store|record|keep)"
        r" (?:this|that)(?=:| down))",
        "",
        0.8,
    ),
    Cue(Intent.NOTES_SEARCH, r"(?:anything|something|what)", r"in (?:my |the )?notes", 0.8),
    # "don't let me forget to book the dentist": a reminder to keep, like "remind me to".
    Cue(Intent.NOTES_SAVE, r"(?:don't|do not) let me forget(?: to)?", "", 0.85),
    Cue(Intent.NOTES_SEARCH, r"(?:which|what|any)", r"notes? (?:mention|mentions|about|with)", 0.8),
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
        Intent.MEMORY_FORGET,
        r"(?:forget|erase|wipe|delete|remove|clear|drop)",
        r"(?:(?:from|of|out of) (?:your )?memory|your memory of)",
        0.8,
        risky=True,
        self_anchored=True,
    ),
    Cue(
        Intent.MEMORY_REMEMBER,
        r"(?:remember|keep in mind|bear in mind|note that|take note that|make a note that"
        r"|just so you(?:'re| are) aware|for your (?:information|awareness)|don't forget"
        r"|do not forget|^know\b|want you to know|commit (?:this |that |it )?to memory"
        r"|keep track of"
        r"|(?:add|save|put|store) (?:this |that |it )?(?:to|in) (?:your )?memory)",
        "",
        0.78,
    ),
    Cue(
        Intent.HELP,
        r"(?:help|what (?:\w+ ){0,3}can (?:you|i) (?:\w+ )?(?:do|ask|say)|what do i say"
        r"|what (?:commands|things) do you|what you can do|what are you able"
        r"|(?:what's|what does) this (?:thing|app|service|assistant)?\s?do)",
        "",
        0.8,
    ),
    Cue(
        Intent.CANCEL_TASK,
        r"(?:never ?mind|scrap that|changed my mind|forget (?:about )?it|stop what you're doing"
        r"|cancel that|let's not|lets not"
        r"|cancel it|don't do (?:that|it)|drop it|leave it)",
        "",
        0.85,
    ),
    Cue(
        Intent.REPEAT,
        r"(?:say (?:that|it) (?:again|one more time)|repeat|come again|one more time"
        r"|what (?:was|is) the last thing you said|what(?: did|'d) you (?:just )?say|^eh$"
        r"|(?:run|go over) (?:that|it) (?:by me )?again|speak up|louder)",
        "",
        0.85,
    ),
    Cue(
        Intent.OUT_OF_SCOPE,
        r"(?:text message|sms|buy|order|capital of|recommend|poem|song|voting|vote"
        r"|set (?:a |an |my )?(?:reminder|alarm|timer)|post (?:to|on) \w+|tweet"
        r"|flights?|hotels?|uber|lyft|taxi|spotify|netflix|youtube|(?:un)?lock the (?:\w+ )?door"
        r"|inbox|(?:new|unread) e-?mails|(?:read|check) (?:me )?my e-?mails?"
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
        if cue.risky and not anchored and not cue.self_anchored:
            confidence = min(confidence, _RISKY_UNANCHORED)
        found.append((confidence, cue.intent, verb.span()))
    found.sort(key=lambda f: -f[0])
    if len(found) > 1 and found[1][0] >= found[0][0] - 0.02 and found[1][1] is not found[0][1]:
        risky = {c.intent for c in CUES if c.risky}
        if found[0][1] in risky or found[1][1] in risky:
            # Two readings and one has a side effect: let the model or a question decide.
            top = found[0][0]
            found = [
                (min(c, _RISKY_UNANCHORED) if c >= top - 0.02 else c, i, span)
                for c, i, span in found
            ]
            found.sort(key=lambda f: -f[0])
    return found
