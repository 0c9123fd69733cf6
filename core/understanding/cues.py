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

from core.understanding import meeting_words
from core.understanding.command import Intent

# "workout" as an object is mostly a modifier ("put on workout music"), and "thing about" a
# topic ("the thing about Bob"): neither is a meeting there.
_ACTIVITY = "|".join(a for a in meeting_words.ACTIVITIES if a != "workout")
_MEETING_WORD = (
    rf"(?:{meeting_words.KIND}|{_ACTIVITY}|{meeting_words.GENERIC}|thing(?! about)|prep)s?"
)
# A meeting named by its time ("my 3 o'clock", "the 10") as well as by a noun.
_MEETING_NOUN = (
    rf"(?:{_MEETING_WORD}|everything (?:i have|on)"
    r"|\d{1,2}(?::\d{2})?(?: ?(?:am|pm|o'?clock))?s?)"
)
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
        r"(?:cancel|call off|scrap|drop|delete|remove|clear|axe|scratch|kill|nix|get rid of|ditch"
        r"|bin|knock|scrub|wipe|nuke|dump|pull the plug on)",
        _MEETING_NOUN,
        0.8,
        risky=True,
    ),
    Cue(
        Intent.CALENDAR_MOVE,
        r"(?:move|push|shift|switch|swap|change|reschedule|bump|postpone|delay|bring forward"
        r"|prepone|put back|push back|put off|shuffle|punt"
        r"|pull forward"
        r"|change the time of|rebook|slide|bring|pull(?! the plug)|make (?:my|the|it|that))",
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
    # "lunch Bob Friday noon", "meeting Carol tomorrow 10": a meeting named first, tersely.
    Cue(
        Intent.CALENDAR_BOOK,
        r"^(?:a |an )?(?:lunch|dinner|coffee|breakfast|drinks|meeting|call|sync|catch ?up"
        r"|one-on-one|1:1) (?!with me\b)(?=[a-z]+ (?:today|tomorrow|\w+day|the \d|on|at)\b)",
        "",
        0.8,
        risky=True,
    ),
    # "can you fit Zoe in tomorrow": room made for someone is a meeting to book.
    Cue(Intent.CALENDAR_BOOK, r"(?:fit|squeeze|slot) (?:[a-z]+ ){1,2}in\b", "", 0.8, risky=True),
    # "half an hour with Mateo Wednesday at 4, lock it in": the details said, then settled.
    Cue(Intent.CALENDAR_BOOK, r"\block (?:it|that|this) in\b", "", 0.8, risky=True),
    # "can we do the review on Thursday instead": a new time for something already planned.
    Cue(Intent.CALENDAR_MOVE, r"instead", "", 0.8, risky=True),
    Cue(
        Intent.CALENDAR_FREE,
        r"(?:find|fit in|fit|squeeze|any|is there|are there|do i have|have i got|when (?:can|could)"
        r"|looking for|look for|carve out|does|what's|what is"
        r"|is|am i|are we|check if|what times?|when's|when is|when am i|when i'm|when i am"
        r"|(?:if|whether) (?:i'm|i am|we're|we are|i have|i've got)"
        r"|(?:check|see|find out) (?:if|whether))",
        r"(?:gap|gaps|opening|openings|free|open|slot|slots|window|availability|available"
        r"|\d+ (?:minutes?|hours?)|an hour|half an hour|a time|some time|work for"
        r"|(?:good|ok|okay|fine|doable) for|(?:have|got) (?:any |some )?(?:free )?time\b"
        r"|clear|nothing (?:booked|on|planned|scheduled)|not busy|(?:am|i'm) free"
        r"|busy (?:at|from|between|around|before|after)\b)",
        0.8,
    ),
    Cue(
        Intent.CALENDAR_BOOK,
        r"(?:schedule|set up|setup|set|put(?! back| off)|arrange|book|add|create|organi[sz]e|plan"
        r"|pencil|block|make (?:a|an|some|time)|new|pop|stick|invite|diari[sz]e|ring-?fence"
        r"|throw|shove|slot|sort out|line up)",
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
    # "when's my next thing with Dmitri", "is Grace's one-to-one still on": a question about
    # one planned thing reads the calendar, whatever the sentence around it.
    Cue(
        Intent.CALENDAR_LIST,
        r"(?:when(?:'s| is| was| does| do| did| are)|what time(?:'s| is| does| do| did| are| am)"
        r"|who (?:am i|i'm|i am|is|are)|any idea (?:who|when|what)|(?:is|are) (?:that|it|this|the"
        r"|my|our|\w+'s|we|they)"
        r"|(?:can|could) you (?:check|confirm|look)|remind me (?:when|what time|who|where|if)"
        r"|what else|run me through|do i (?:still )?have|what day(?:'s| is)|what's"
        r"|still (?:on|happening|going ahead|booked|scheduled))",
        rf"(?:{_MEETING_WORD}|things?|get-together|(?:'s|is|are|anything) on\b|seeing"
        r"|(?:first|1st|next) up"
        r"|scheduled|booked|planned|(?:got|have) on|still (?:on|happening|going|booked|at)"
        r"|happening|going ahead)",
        0.8,
    ),
    # "pull up Friday", "read out tomorrow": a day asked for is its calendar.
    Cue(
        Intent.CALENDAR_LIST,
        r"^(?:pull up|bring up|read out|read me|run through|go through|walk me through)"
        r" (?:my |the )?(?:today|tomorrow|(?:this |next )?\w+day)\b",
        "",
        0.8,
    ),
    # "free tomorrow?", "available 2pm the 9th?": a few words asking for free time.
    Cue(Intent.CALENDAR_FREE, r"^(?:am i )?(?:free|available)", "", 0.8),
    # "would there be room on Friday for a call", "any breathing room this weekend".
    Cue(
        Intent.CALENDAR_FREE,
        r"\b(?:breathing |wiggle )?room\b(?= (?:on|for|in|this|next|tomorrow|today|at)\b|\W*$)",
        "",
        0.8,
    ),
    # "December 11th schedule", "calendar tomorrow": the calendar of a day.
    Cue(
        Intent.CALENDAR_LIST,
        r"(?:^(?:my )?(?:calendar|agenda|diary)|^my schedule|(?:calendar|schedule|agenda|diary)$)",
        "",
        0.8,
    ),
    # "my meetings for a week from today": the calendar named, with nothing else asked.
    Cue(
        Intent.CALENDAR_LIST,
        r"^(?:(?:all|any of) )?my (?:meetings|appointments|events|calendar|schedule|agenda|diary)",
        "",
        0.8,
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
    # "I owe Hannah an email ..., fire one off saying ...".
    Cue(Intent.EMAIL_SEND, r"fire (?:one|1|it|that) off", "", 0.8, risky=True),
    # "drop Carol a line saying ...": a short message.
    Cue(Intent.EMAIL_SEND, r"drop (?:[a-z]+ ){1,2}a (?:quick )?line\b", "", 0.8, risky=True),
    Cue(
        Intent.EMAIL_SEND,
        r"(?:send|shoot|fire off|drop|email|e-mail|mail|ping)",
        r"(?:e-?mail|mail|(?:it|this|that|them) to \w+|\w+ (?:about|saying|that))",
        0.8,
        risky=True,
    ),
    Cue(
        Intent.NOTES_SEARCH,
        r"(?:did i (?:save|note|write)|find|search|look up|look for|what did i (?:save|note|write)"
        r"|do i have)",
        r"(?:notes?|anything|something)(?: down)? (?:about|on|for|regarding|mentioning)",
        0.8,
    ),
    Cue(
        Intent.NOTES_SAVE,
        r"(?:new|save|add|make|take|jot|write|log|stick|stash|pop|put|throw|scribble)",
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
    # "notes about passport?", "search notes: gate code".
    Cue(Intent.NOTES_SEARCH, r"^(?:search |find |check )?(?:my )?notes (?:about|on|for)?", "", 0.8),
    # "scribble this down, the code is 4417": something to keep, said after.
    Cue(
        Intent.NOTES_SAVE,
        r"^(?:scribble|jot|write|note|take|get|put) (?:this|that|it) down\b",
        "",
        0.8,
    ),
    # "don't let me forget to book the dentist": a reminder to keep, like "remind me to".
    Cue(Intent.NOTES_SAVE, r"(?:don't|do not) let me forget(?: to)?", "", 0.85),
    Cue(Intent.NOTES_SEARCH, r"(?:which|what|any)", r"notes? (?:mention|mentions|about|with)", 0.8),
    Cue(
        Intent.MEMORY_LIST,
        r"(?:what|which|list|show|tell me|read|^everything|^all)",
        r"(?:you (?:remember|know|recall)|you(?:'ve| have)? (?:got )?(?:stored|saved|learned|kept)"
        r"|(?:stored|saved|know|learned) about me"
        r"|memories|saved preferences|my preferences|you have on me|asked you to remember"
        r"|you(?:'re| are) (?:remembering|keeping track of)|are you (?:remembering|keeping))",
        0.8,
    ),
    Cue(
        Intent.MEMORY_FORGET,
        r"(?:stop remembering|forget|erase|unlearn|wipe|delete|remove|drop)",
        r"(?:that|what you know|what you remember|memory|memories|everything|the thing|about)",
        0.8,
        risky=True,
    ),
    Cue(
        Intent.MEMORY_FORGET,
        r"(?:stop remembering|unlearn|(?:don't|do not) want you to remember|no need to remember)",
        "",
        0.8,
        risky=True,
        self_anchored=True,
    ),
    Cue(
        Intent.MEMORY_FORGET,
        r"(?:forget|erase|wipe|delete|remove|clear|drop|scrub)",
        r"(?:(?:from|of|out of) (?:your )?memory|your memory of"
        r"|(?:the thing|what i (?:said|told you)|everything) (?:about|regarding))",
        0.8,
        risky=True,
        self_anchored=True,
    ),
    Cue(
        Intent.MEMORY_REMEMBER,
        r"(?:remember|keep in mind|bear in mind|take note that"
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
        r"|cancel it|don't do (?:that|it)|drop it|leave it|don't bother)",
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
        r"(?:text message|sms|buy|order|capital of|recommend|poem|song|voting|vote|jokes?|riddle"
        r"|turn (?:on|off) (?:the |a |my )?(?:\w+ )?(?:lights?|heating|heater|tv|radio|fan)"
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
_VERIFYING = re.compile(r"(?:can|could) you (?:check|confirm)")
# Risky intents from cues alone act only with both cues and an anchoring slot.
_RISKY_UNANCHORED = 0.7
_RISKY_INTENTS = frozenset(c.intent for c in CUES if c.risky)


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
    # A cue inside a longer one is part of it: "don't want you to remember" is no "remember".
    found = [
        f
        for f in found
        if not any(
            o[1] is not f[1] and o[2][0] <= f[2][0] and f[2][1] <= o[2][1] and o[2] != f[2]
            for o in found
        )
    ]
    if any(i is Intent.CALENDAR_LIST and _VERIFYING.match(text, s) for _, i, (s, _e) in found):
        # "I think I have lunch with Carol on Wednesday, can you check": the caller asks
        # whether something is planned; the words before the question are no order.
        found = [
            (min(c, _RISKY_UNANCHORED) if i in _RISKY_INTENTS else c, i, sp) for c, i, sp in found
        ]
        found.sort(key=lambda f: -f[0])
    tied = len(found) > 1 and found[1][0] >= found[0][0] - 0.02 and found[1][1] is not found[0][1]
    if tied and (found[0][1] in _RISKY_INTENTS or found[1][1] in _RISKY_INTENTS):
        # Two readings and one has a side effect: let the model or a question decide.
        top = found[0][0]
        found = [
            (min(c, _RISKY_UNANCHORED) if c >= top - 0.02 else c, i, span) for c, i, span in found
        ]
        found.sort(key=lambda f: -f[0])
    return found
