"""Calendar tools: list meetings, find free slots, book, cancel and move (level 3).

Meetings live in Baton's own database, per tenant and user. Booking is keyed by the call's
idempotency key, so a replayed booking returns the meeting the first call made.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select, update

from core.config import Settings
from core.ids import new_id, utcnow
from core.store.tables import User
from core.tools.builtin.storage import lock_owner, read, write
from core.tools.builtin.tables import CalendarEvent
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolError, ToolSpec
from core.understanding.command import Intent
from core.understanding.grammar import IntentPhrases, phrases
from core.understanding.speech import spoken_moment

EVENTS = CalendarEvent.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
GRID_MINUTES = 15
MAX_SEARCH_DAYS = 31
MAX_MEETING = timedelta(hours=12)

_DATETIME = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601, e.g. 2030-01-07T10:00:00+01:00",
}
_DAY = {"type": "string", "format": "date", "description": "A day, YYYY-MM-DD"}

# What a meeting is called when people speak of one (the grammar's head nouns).
MEETING = (
    r"(?:meeting|call|appointment|appt|event|session|sync|catch ?up|chat|1:1|1 on 1|one on one"
    r"|one-on-one|lunch|coffee|dinner|breakfast|standup|stand-up|review|interview|demo"
    r"|presentation|workshop|huddle|check-in|check in|retro|retrospective|planning|briefing"
    r"|conference|catchup|get together|hangout|brunch|drinks|class|lesson|consultation"
    r"|visit|date|party|booking|reservation|kick ?off|kick-off|offsite|meetup|training"
    r"|webinar|seminar|haircut|check-?up|zoom|touch ?base|focus time|deep work|block)s?"
)
# Things a person books time for that are also everyday words ("get to the gym", "put on
# workout music"): only a verb that can only mean booking makes them a booking.
ACTIVITY = (
    r"(?:yoga|gym|workout|pilates|practice|rehearsal|massage|therapy|physio|tutoring|lecture"
    r"|run|swim|dentist|doctor)s?"
)
_LIST_DAY = r"(?:today|tomorrow|tonight|this|next|on|monday|tuesday|wednesday|thursday|friday"
_LIST_DAY += r"|saturday|sunday|the \d|for the)"
INTENTS: tuple[IntentPhrases, ...] = (
    phrases(
        Intent.CALENDAR_LIST,
        (r"\bwhat(?:'s| is| s)? (?:on|in) (?:my |the )?(?:calendar|schedule|agenda|diary)\b", 0.95),
        (r"\bwhat (?:do|did|else do|will) i have\b|\bwhat i(?:'ve| have)? (?:have|got)\b", 0.9),
        (
            r"\bwhat(?: have i got| have i| am i doing| am i up to|(?:'s| is) happening| are my"
            r" plans)\b",
            0.85,
        ),
        (r"\banything (?:i (?:should|need to|ought to) know|important) (?:about|for|on)\b", 0.85),
        (r"\b(?:am i|are we) (?:doing|up to) anything\b", 0.85),
        (
            r"\bwhen (?:does|will) my (?:day|first meeting|morning) (?:start|begin|end|finish)\b",
            0.9,
        ),
        (
            r"\b(?:conflicts?|clash(?:es)?|double[- ]bookings?) (?:on|for|tomorrow|today|this|next"
            r"|in my)\b",
            0.85,
        ),
        (rf"\b(?:if|whether) i have (?:a |an |any )?{MEETING}\b", 0.85),
        # A bare request: "calendar please", "meetings tomorrow".
        (
            r"\A(?:my |the )?(?:calendar|schedule|agenda|diary|meetings|appointments|events)"
            r"(?: (?:for |on )?(?:today|tomorrow|tonight|this \w+|next \w+|\w+day"
            r"|the \d+\w*))?\s*$",
            0.85,
        ),
        (
            r"\bwhat(?:'s| is| s| do i have| have i got)? (?:on |for |planned |scheduled |going "
            rf"on |happening |up )?(?:for |on )?{_LIST_DAY}",
            0.8,
        ),
        (
            r"\b(?:read|check|show|list|tell me|give me|go (?:through|over)|look at|open|review|"
            r"pull up)"
            r" (?:me )?(?:what's on |what is on )?(?:my |the |all )?(?:calendar|schedule|agenda|"
            r"diary"
            r"|meetings|appointments|events|day|week|plans)\b",
            0.9,
        ),
        (
            r"\b(?:do|have|did) i (?:have|got) (?:any(?:thing)?|some(?:thing)?|a|many|other) "
            rf"?(?:{MEETING}|plans|on|scheduled|booked|planned|else)?\b",
            0.85,
        ),
        (rf"\bany {MEETING}\b", 0.85),
        (
            r"\bam i (?:busy|booked)\b|\bis my (?:day|calendar|schedule) (?:busy|full|free|"
            r"clear)\b",
            0.85,
        ),
        (
            r"\bwhat(?:'s| is| does)? (?:my |the )?(?:day|morning|afternoon|evening|week|"
            r"schedule|calendar)"
            r" (?:look|looking|looks) like\b",
            0.95,
        ),
        (rf"\b(?:what|which|how many) {MEETING}\b", 0.9),
        (
            rf"\bwhen(?:'s| is| s) (?:my |the )?(?:next|first|last) {MEETING}\b|\bmy next "
            rf"{MEETING}\b",
            0.9,
        ),
        (r"\bwhat(?:'s| is) next\b|\bwho am i meeting\b", 0.85),
        (
            r"^is (?:my|the|our) (?:[\w'-]+ ){1,3}still (?:on|happening|scheduled|going ahead"
            r"|planned|booked)\b",
            0.9,
        ),
        (r"\b(?:who|when|where) am i (?:seeing|meeting|having \w+ with)\b", 0.85),
        (r"\bam i (?:meeting|seeing) (?:anyone|anybody|someone)\b", 0.85),
        (
            r"\b(?:where|when|what|who)(?:'s| is) my (?:\d{1,2}(?::\d{2})?(?: ?[ap]m| o'?clock)?"
            r"|noon)\b",
            0.85,
        ),
        (
            r"\A(?:tell me|talk me through|remind me) (?:about )?(?:my |the )?(?:today|tomorrow"
            r"|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday|this week|next week"
            r"|(?:this |the )?weekend)\b",
            0.85,
        ),
        (
            r"\A(?:my |the )?(?:calendar|schedule|agenda|diary)"
            r" (?:for|on|today|tomorrow|this|next)\b",
            0.85,
        ),
        (
            r"\b(?:what|how)(?:'s| is| are| does| do)? (?:the |my )(?:plans?|agenda|schedule"
            r"|calendar|day|week|morning|afternoon|evening|weekend)\b"
            r"(?! (?:free|open|available)\b)",
            0.85,
        ),
        (
            r"\b(?:go over|go through|run through|walk me through|run me through|talk me through"
            r"|brief me on|fill me in on) (?:my |the )?(?:today|tomorrow|tonight|this|next|the \d"
            r"|\w+day|day|week|schedule|calendar|agenda|meetings|plans)\b",
            0.9,
        ),
        (
            r"\b(?:is|are) (?:my |the )?(?:day|calendar|schedule|morning|afternoon|evening|week"
            r"|weekend|today|tomorrow|\w+day)s?(?: \w+)? (?:busy|full|clear|packed)\b",
            0.85,
        ),
        (rf"\b(?:(?:do|did) i have|have i got) (?:{MEETING}|plans|anything)\b", 0.85),
        (
            r"\b(?:what time|when)(?:'s| is| are) (?:(?:my|the|our) )?"
            rf"(?:[\w'-]+ ){{0,3}}(?:{MEETING}|{ACTIVITY})\b",
            0.9,
        ),
        (
            r"\bwhat(?:'s| is| s)? (?:coming up|going on|happening|planned|scheduled|lined up"
            r"|booked|in store)\b",
            0.85,
        ),
        (
            r"\A(?:show|read|tell|give|check)(?: me)? (?:my |the )?(?:today|tomorrow|tonight"
            r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|this week|next week"
            r"|(?:this |the )?weekend)\b",
            0.85,
        ),
        (
            r"\bhow (?:busy|packed|full|booked|hectic|crazy) (?:am i|is my (?:day|week|calendar"
            r"|schedule)|is (?:today|tomorrow|\w+day|the week|next week|this week))\b",
            0.9,
        ),
        (
            r"\bwhere (?:do|will|should) i (?:have|need) to be\b|\bwhere am i (?:going|supposed to"
            r" be)\b",
            0.85,
        ),
        (r"\bmy (?:calendar|schedule|agenda)\b", 0.75),
        (
            r"\b(?:\w+day'?s|tomorrow'?s|today'?s|this week'?s|next week'?s) (?:schedule|"
            r"calendar|agenda"
            r"|meetings|plans|appointments)\b",
            0.9,
        ),
        (
            r"^(?:is there |do i have |have i got )?anything (?:on|for|planned|scheduled|happening"
            r"|booked|in (?:my |the )?(?:calendar|diary|schedule|agenda))\b",
            0.85,
        ),
    ),
    phrases(
        Intent.CALENDAR_FREE,
        (
            r"\b(?:find|look for|search for|get|give me|suggest|show me|are there|is there|any|"
            r"check for)"
            r" (?:me )?(?:some |a |an |any )?(?:free|open|available|spare) ?(?:time|slots?|"
            r"spots?|windows?|times|hour"
            r"|half hour|\d+ minutes?|block|gap)\b",
            0.95,
        ),
        (
            r"\bwhen (?:am i|i'm|i am|are we|we're|we are|is \w+|are \w+(?: and \w+)?"
            r"|are both of us|are they) (?:both )?"
            r"(?:free|available|open)\b",
            0.95,
        ),
        (
            r"\bwhen (?:can|could|should) (?:[a-z]+ and )?(?:i|we) (?:meet|get together|fit|squeeze"
            r"|catch up"
            r"|talk|see|get time with|have a (?:call|meeting|chat) with)\b",
            0.9,
        ),
        (
            r"\b(?:do i have|have i got|is there|are there|any|find|got) (?:me )?"
            r"(?:a |an |any |some )?"
            r"(?:gaps?|openings?|free (?:slots?|time|spots?)|windows?)\b",
            0.96,
        ),
        (r"\b(?:free|open|available|spare) (?:time|slots?|spots?|windows?|times)\b", 0.9),
        (
            r"\b(?:a|an|any|some) (?:free|open|spare|available) (?:\d+(?: |-)?(?:minutes?|mins?"
            r"|hours?)|hour|half hour|half an hour|couple of hours|morning|afternoon|evening"
            r"|day)\b",
            0.96,
        ),
        (r"\bwhen (?:do|will|would) (?:i|we) have (?:time|a free|an? open|some free)\b", 0.96),
        (r"\b(?:can|could) (?:i|we|you) (?:squeeze|fit|slot)(?: (?:in|it in))?\b", 0.9),
        (
            r"\b(?:earliest|first|next|soonest|latest) (?:free |open |available )?(?:slot|opening"
            r"|gap|window|time i(?:'m| am) free)\b",
            0.95,
        ),
        (r"\boverlap\b|\bin common\b", 0.9),
        (
            r"\b(?:soonest|earliest|first|next) (?:time )?(?:i|we) (?:can|could) (?:meet|see|talk"
            r"|catch up)\b",
            0.9,
        ),
        (r"\bwhen(?:'s| is| will) \w+(?: \w+)? (?:around|free|available|in|about)\b", 0.85),
        (rf"\bcan (?:i|we) make (?:a |an |the |it )?(?:to )?(?:\d|{MEETING})", 0.9),
        (
            r"\b(?:works?|suits?) for (?:me|us|[a-z]+ and (?:me|i))\b"
            r"|^(?:would|does|will|could|is) .{1,40} (?:work|suit)\s*$",
            0.85,
        ),
        (
            r"\b(?:if|whether) (?:i|we) (?:have (?:the |any |enough )?(?:time|room|space)"
            r"|(?:am|are|'m|'re) (?:free|available))\b",
            0.9,
        ),
        (r"\bwhat (?:times?|days?) (?:works?|suits?|is good|are good|would work)\b", 0.9),
        (
            r"\b(?:find|look for|search for)(?: me)? (?:a |an |some )?(?:\d+ (?:minutes?|mins?"
            r"|hours?)|an hour|half an hour|a half hour|a couple of hours)\b",
            0.9,
        ),
        (
            r"^(?:are|is) (?:both |all )?(?:[\w']+ ){1,4}(?:both |all )?(?:free|available|open"
            r"|clear)\b",
            0.9,
        ),
        (
            r"\b(?:when|what)(?:'s| is| would be| will be| might be| would)? (?:a |the )?(?:good"
            r"|best|convenient|better) (?:time|day|slot|moment)\b",
            0.92,
        ),
        (r"\b(?:my|any|your|\w+'s) availability\b|\bavailability (?:for|on|with|this|next)\b", 0.9),
        (
            r"\b(?:is there|there's|there is|have i got|do i have|got) (?:any |some |enough )?"
            r"(?:time|room|space)\b",
            0.9,
        ),
        (r"\bam i (?:free|available|open)\b|\bdo i have (?:any )?(?:time|room|space)\b", 0.85),
        (r"\b(?:would|will) (?:i|we) be (?:free|available|around)\b", 0.9),
        (
            r"\b(?:find|pick|suggest|propose|get) (?:me )?(?:a |some )?(?:good )?(?:time|slot|"
            r"spot)s?"
            r" (?:to meet|for (?:a|the|us|me)|with|when)\b",
            0.9,
        ),
        (
            r"\bwhen(?:'s| is) (?:a good time|the (?:next|first|earliest) (?:free|open|"
            r"available))\b",
            0.9,
        ),
        (r"\bwhen (?:am i|are we) not busy\b|\bwhere do i have (?:a )?gap", 0.9),
        (r"\bis there (?:any |some )?(?:time|room|space)\b", 0.85),
        (
            r"\b(?:find|get|suggest|look for|give me) (?:me )?(?:a |an |some )?(?:\d+(?: |"
            r"-)?(?:minute"
            r"|min|hour)s? |good |quick |short )?(?:slot|time slot|window|gap|opening)s?\b",
            0.9,
        ),
    ),
    phrases(
        Intent.CALENDAR_BOOK,
        (
            r"(?<!can't )(?<!cannot )(?<!won't )\b(?:book|schedule|set up|setup|arrange|"
            r"organi[sz]e|plan|put|add|create|make|"
            r"pencil in"
            r"|block(?: out| off)?|reserve|put in|set|get|fix|line up|slot in|throw|calendar)"
            r" (?:me |us )?(?:in )?(?:a |an |the |some |my |another |our )?(?:new |quick |short |"
            r"brief |long "
            r"|\d+(?: |-)?(?:minute|min|hour)s? |half(?: an)? hour |one hour |hour(?: |-)long |"
            r"team "
            rf"|follow(?: |-)?up |weekly |(?:\w+ ){{0,2}})?{MEETING}\b",
            0.95,
        ),
        (
            r"\b(?:book|schedule|set up|arrange|pencil in|reserve|block(?: out| off)?|put in"
            r"|slot in) (?:me |us )?(?:in )?(?:for )?(?:a |an |the |some |my |another |our )?"
            rf"(?:[a-z]+ )?{ACTIVITY}\b",
            0.95,
        ),
        # "on my calendar" outweighs a reminder or a note said on the way.
        (
            r"\b(?:put|add|set|create|make|stick|pop) (?:.{1,60} )?(?:on|in|into|to) (?:my |the )?"
            r"(?:calendar|schedule|diary)\b",
            0.97,
        ),
        (
            r"\b(?:reserve|block(?: out| off)?|hold|set aside|carve out) (?:some |an? |the )?"
            r"(?:time|\d+ (?:hours?|minutes?)|an hour|half an hour|(?:my |the )?(?:morning"
            r"|afternoon|evening)|\w+day)\b",
            0.9,
        ),
        (rf"\b(?:hop|jump|get) on (?:a |an )?(?:quick )?{MEETING}\b", 0.9),
        (r"\badd (?:.{1,60} )?to (?:my |the )?(?:calendar|schedule|diary)\b", 0.9),
        (
            r"\b(?:book|schedule|set up|arrange) (?:me |us )?(?:some )?(?:time|a slot|an hour)? ?"
            r"(?:with|for me and)\b",
            0.9,
        ),
        # "my schedule" is a noun, not the verb.
        (
            r"(?<!my )(?<!the )(?<!your )\b(?:book|schedule) (?:me|us|it|that|this|something)\b",
            0.85,
        ),
        (
            r"(?<!my )(?<!the )(?<!your )\b(?:book|schedule|set up|arrange|organi[sz]e|plan)"
            r" (?:a |an |the |some )?(?:[a-z'-]+ ){1,3}with (?!me\b|my\b)\w+",
            0.85,
        ),
        (
            r"\b(?:i (?:want|need|would like|'d like) to|let's|we should|can we|can i) "
            r"(?:meet|get together|catch up|sync|talk|have a (?:call|meeting|chat)) with \w+",
            0.8,
        ),
        # "meet with Grace Lee next Thursday", "catch up with Mateo over coffee Wednesday".
        (
            r"\b(?:meet(?:ing)?(?: up)?|catch(?:ing)? up|get(?:ting)? together|sit down) with"
            r" (?!me\b|you\b|us\b)\w+(?: \w+){0,2}? (?:on|at|over|for|tomorrow|today|tonight|next"
            r"|this|\w+day)\b",
            0.8,
        ),
        (
            r"^(?:meet|see|meet up with|catch up with|get together with) (?!me\b|you\b|us\b)"
            r"(?:[a-z]+ ){1,2}(?:on|at|tomorrow|today|tonight|next|this|\w+day)\b",
            0.85,
        ),
        (
            r"\bmake sure (?:that )?(?:there(?:'s| is)|i have|i've got) (?:a|an) "
            rf".{{0,40}}{MEETING}\b",
            0.9,
        ),
        # "I'd like a call with Bob at three": the wish was unwrapped, the thing remains.
        # \A, not ^: only the whole turn, never after a lead-in ("Bob booked a meeting with me").
        (
            r"\A(?:a|an|another) (?:new |quick |short |brief |\d+(?: |-)?(?:minute|min|hour)s? "
            rf"|half(?: an)? hour )?{MEETING} (?:with|at|on|for|tomorrow|today|next|this)\b",
            0.8,
        ),
    ),
    phrases(
        Intent.CALENDAR_CANCEL,
        (
            r"\b(?:cancel|delete|remove|drop|call off|scrap|clear|kill|axe|scratch|take off|get "
            r"rid of)"
            r" (?:my |the |that |this |our |a |an |tomorrow's |today's "
            # "remove the memory about video calls": what is removed is not a meeting.
            r")?(?:(?!\b(?:about|regarding|memor(?:y|ies)|notes?|e-?mails?|messages?)\b).)"
            rf"{{0,60}}?{MEETING}\b",
            0.95,
        ),
        (
            r"\b(?:cancel|call off|delete|remove)\b.{0,40}\b(?:with \w+|at \d|on \w+day|tomorrow|"
            r"today)\b",
            0.85,
        ),
        (
            r"\bi (?:can't|cannot|won't|will not|can not)(?: be able to)? (?:make|attend|go to|do)"
            r" (?:it to "
            r")?(?:the|my|our)"
            rf"\b.{{0,40}}(?:{MEETING}|\d{{1,2}}(?::\d{{2}})?(?: ?[ap]m| o'?clock))\b",
            0.8,
        ),
        (r"\b(?:cancel|call off) (?:it|that one|this one)\b", 0.75),
        # "cancel the massage": a thing on the calendar the grammar has no noun for.
        (
            r"^(?:cancel|call off|scrap|delete) (?:the|my|our|tomorrow's|today's|\w+day's)"
            r" (?!request|whole|thing|task|order|subscription|membership|account|email|note|memory)"
            r"[a-z']+(?: [a-z']+)?\s*$",
            0.8,
        ),
        (
            r"\bclear (?:my|the) (?:morning|afternoon|evening|day|calendar|schedule)\b"
            r"|\b(?:don't|do not|no longer) need (?:the|my|that|this) .{0,60}\b(?:anymore"
            r"|any more)\b",
            0.9,
        ),
        # "I need the meeting with Hannah cancelled": the wish, then what should happen to it.
        (
            r"\b(?:need|want|like|get|have)\b (?:the|my|our|this|that|it|\w+'s)\b.{0,60}\b"
            r"(?:cancelled|canceled|called off|removed|deleted|dropped)\b",
            0.9,
        ),
        (
            r"\b(?:can|could|should) (?:the|my|our|we|you) .{0,60}\bbe (?:cancelled|canceled"
            r"|called off|dropped|scrapped)\b",
            0.9,
        ),
        (r"\bcancel\b.{0,60}\bfrom my (?:calendar|schedule)\b", 0.95),
        (
            r"\b(?:take|remove|delete|clear|drop|wipe) .{1,60} (?:off|from|out of) (?:my |the )?"
            r"(?:calendar|schedule|diary|agenda)\b",
            0.95,
        ),
        (
            r"\b(?:cancel|call off|delete|remove|scrap) (?:my|the|our|\w+day's|tomorrow's|today's)"
            r" (?:\d{1,2}(?::\d{2})?"
            r"(?: ?[ap]\.?m\.?| o'?clock)?|noon)\b",
            0.9,
        ),
    ),
    phrases(
        Intent.CALENDAR_MOVE,
        (
            r"\b(?:move|reschedule|re-schedule|push|postpone|shift|bump|change|rearrange|delay|"
            r"bring"
            r" forward|pull forward|push back|move up|rebook|switch|slide)\b"
            rf".{{0,60}}{MEETING}\b",
            0.95,
        ),
        (r"\breschedul(?:e|ing)\b", 0.9),
        (
            rf"\b(?:make|move|push|have|do|put)\b.{{0,60}}{MEETING}\b.{{0,40}}\b(?:later|earlier)\b",
            0.96,
        ),
        (r"\b(?:at|on|to) .{1,20} instead of\b", 0.9),
        (
            r"\b(?:need|want|like|get|have)\b (?:the|my|our|this|that|it|\w+'s)\b.{0,60}\b"
            r"(?:moved|pushed|shifted|postponed|bumped)\b",
            0.9,
        ),
        (
            r"\b(?:can|could|should) (?:the|my|our|we|you) .{0,60}\bbe (?:moved|pushed|shifted"
            r"|rescheduled|postponed|bumped|changed)\b",
            0.9,
        ),
        (
            r"\b(?:move|push|shift|bump|postpone|delay|change) (?:my |the |it |that |this "
            r")?.{0,60}\b"
            r"(?:to|till|until|by|back)\b.{0,30}\b(?:\d|tomorrow|today|monday|tuesday|wednesday"
            r"|thursday|friday|next|later|earlier)",
            0.85,
        ),
        (r"\bchange the (?:time|day|date) of\b", 0.95),
        (r"\b(?:move|push|postpone) (?:it|that)\b", 0.8),
        (
            r"\b(?:move|push|shift|bump|postpone|reschedule) (?:my|the|our) (?:\d{1,2}(?::\d{2})?"
            r"(?: ?[ap]\.?m\.?| o'?clock)?|noon)\b",
            0.9,
        ),
    ),
)


class CalendarTools:
    """The calendar tools bound to one configuration (time zone, bookable hours)."""

    def __init__(self, settings: Settings) -> None:
        self.tz: tzinfo = ZoneInfo(settings.calendar_timezone)
        start, _, end = settings.calendar_day_hours.partition("-")
        self.day_start = time.fromisoformat(start.strip())
        self.day_end = time.fromisoformat(end.strip())
        if self.day_end <= self.day_start:
            raise ValueError("BATON_CALENDAR_DAY_HOURS must look like 09:00-17:00")

    # ----- parsing -------------------------------------------------------------------------

    def _when(self, value: str, field: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ToolError(
                "invalid_arguments", f"{field} is not an ISO 8601 time: {value!r}"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.tz)
        return parsed.astimezone(UTC)

    def _day(self, value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ToolError("invalid_arguments", f"date is not YYYY-MM-DD: {value!r}") from None

    def _iso(self, at: datetime) -> str:
        return _aware(at).astimezone(self.tz).isoformat()

    def _public(self, row: Any) -> dict[str, Any]:
        return {
            "event_id": row["event_id"],
            "title": row["title"],
            "start": self._iso(row["start_at"]),
            "end": self._iso(row["end_at"]),
            "attendees": row["attendees"] or [],
            "location": row["location"],
            "status": row["status"],
        }

    def _window(self, args: dict[str, Any]) -> tuple[datetime, datetime]:
        if "date" in args:
            day = self._day(args["date"])
            start = datetime.combine(day, time.min, self.tz).astimezone(UTC)
            return start, start + timedelta(days=1)
        start = self._when(args["from"], "from") if "from" in args else utcnow()
        end = self._when(args["to"], "to") if "to" in args else start + timedelta(days=7)
        if end <= start:
            raise ToolError("invalid_arguments", "'to' must be after 'from'")
        if end - start > timedelta(days=MAX_SEARCH_DAYS):
            raise ToolError("invalid_arguments", f"search at most {MAX_SEARCH_DAYS} days at once")
        return start, end

    @staticmethod
    def _booked(
        conn: Connection, ctx: ToolContext, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(EVENTS)
            .where(
                EVENTS.c.tenant_id == ctx.tenant_id,
                EVENTS.c.user_id == ctx.user_id,
                EVENTS.c.status == "booked",
                EVENTS.c.start_at < end,
                EVENTS.c.end_at > start,
            )
            .order_by(EVENTS.c.start_at)
        ).mappings()
        return [dict(r) for r in rows]

    # ----- tools ---------------------------------------------------------------------------

    async def list_events(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """The user's meetings in a window (default: the next 7 days), or those whose title
        has every word of ``title`` (default window: the next month)."""
        wanted = str(args.get("title") or "").lower().split()
        if wanted and not {"date", "from", "to"} & set(args):
            args = {**args, "to": (utcnow() + timedelta(days=MAX_SEARCH_DAYS - 1)).isoformat()}
        start, end = self._window(args)
        rows = await read(ctx.engine, lambda c: self._booked(c, ctx, start, end))
        if wanted:
            rows = [r for r in rows if all(w in str(r["title"]).lower() for w in wanted)]
        return {"events": [self._public(r) for r in rows], "timezone": str(self.tz)}

    async def find_slots(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Free slots of the asked length inside bookable hours, earliest first."""
        length = timedelta(minutes=int(args.get("duration_minutes", 30)))
        limit = int(args.get("limit", 5))
        start, end = self._window(args)
        start = max(start, utcnow())
        others = list(dict.fromkeys(u for u in args.get("attendees", []) if u != ctx.user_id))

        def busy_of_everyone(conn: Connection) -> list[dict[str, Any]]:
            known = set(
                conn.execute(
                    select(USERS.c.user_id).where(
                        USERS.c.tenant_id == ctx.tenant_id, USERS.c.user_id.in_(others)
                    )
                ).scalars()
            )
            missing = [u for u in others if u not in known]
            if missing:
                raise ToolError("invalid_arguments", f"not on your team: {', '.join(missing)}")
            rows = self._booked(conn, ctx, start, end)
            for user in others:
                rows += self._booked(conn, replace(ctx, user_id=user), start, end)
            return rows

        busy = await read(ctx.engine, busy_of_everyone)
        spans = sorted((_aware(b["start_at"]), _aware(b["end_at"])) for b in busy)
        slots: list[dict[str, str]] = []
        day = start.astimezone(self.tz).date()
        while len(slots) < limit and datetime.combine(day, time.min, self.tz) < end:
            open_at = max(datetime.combine(day, self.day_start, self.tz), start)
            close_at = min(datetime.combine(day, self.day_end, self.tz), end)
            at = _round_up(open_at.astimezone(UTC))
            while at + length <= close_at and len(slots) < limit:
                clash = next((e for s, e in spans if s < at + length and e > at), None)
                if clash is None:
                    slots.append({"start": self._iso(at), "end": self._iso(at + length)})
                    at += length
                else:
                    at = _round_up(clash)
            day += timedelta(days=1)
        return {
            "slots": slots,
            "duration_minutes": int(length.total_seconds() // 60),
            "attendees": others,
        }

    async def book(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Book a meeting unless it clashes; the same call replayed returns the same meeting."""
        start = self._when(args["start"], "start")
        if "end" in args:
            end = self._when(args["end"], "end")
        else:
            end = start + timedelta(minutes=int(args.get("duration_minutes", 30)))
        if end <= start:
            raise ToolError("invalid_arguments", "the meeting must end after it starts")
        if end - start > MAX_MEETING:
            raise ToolError("invalid_arguments", "a meeting may last at most 12 hours")
        title = args["title"].strip()

        def book(conn: Connection) -> dict[str, Any]:
            lock_owner(conn, "calendar", ctx.tenant_id, ctx.user_id)
            existing = self._by_key(conn, ctx)
            if existing is not None:
                return {"event": self._public(existing), "replayed": True}
            clashes = self._booked(conn, ctx, start, end)
            if clashes:
                raise ToolError(
                    "conflict",
                    f"that time clashes with '{clashes[0]['title']}'",
                    data={"conflicts": [self._public(c) for c in clashes]},
                )
            row = {
                "event_id": new_id("cal"),
                "tenant_id": ctx.tenant_id,
                "user_id": ctx.user_id,
                "title": title,
                "start_at": start,
                "end_at": end,
                "attendees": list(args.get("attendees", [])),
                "location": args.get("location"),
                "status": "booked",
                "idempotency_key": ctx.idempotency_key,
                "run_id": ctx.run_id,
                "created_at": utcnow(),
            }
            conn.execute(insert(EVENTS).values(**row))
            return {"event": self._public(row), "replayed": False}

        return await write(ctx.engine, book)

    async def cancel(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Cancel one of the user's meetings (cancelling twice is harmless).

        ``title`` and ``start``, when given, are what the person was asked to confirm: a
        meeting that does not match them is not cancelled.
        """
        return await self._cancel_where(ctx, event_id=args["event_id"], expect=args)

    async def move(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Move one of the user's meetings to a new start, keeping its length; a move that
        would clash with another meeting is refused. Moving twice to the same time is harmless."""
        new_start = self._when(args["start"], "start")

        def move(conn: Connection) -> dict[str, Any]:
            lock_owner(conn, "calendar", ctx.tenant_id, ctx.user_id)
            row = self._owned_event(conn, ctx, args["event_id"], args)
            if row["status"] != "booked":
                raise ToolError("not_found", f"'{row['title']}' is cancelled")
            length = _aware(row["end_at"]) - _aware(row["start_at"])
            new_end = new_start + length
            clashes = [
                c
                for c in self._booked(conn, ctx, new_start, new_end)
                if c["event_id"] != row["event_id"]
            ]
            if clashes:
                raise ToolError(
                    "conflict",
                    f"that time clashes with '{clashes[0]['title']}'",
                    data={"conflicts": [self._public(c) for c in clashes]},
                )
            conn.execute(
                update(EVENTS)
                .where(EVENTS.c.event_id == row["event_id"])
                .values(start_at=new_start, end_at=new_end)
            )
            moved = {**dict(row), "start_at": new_start, "end_at": new_end}
            return {"event": self._public(moved), "previous_start": self._iso(row["start_at"])}

        return await write(ctx.engine, move)

    def _owned_event(
        self, conn: Connection, ctx: ToolContext, event_id: str, expect: dict[str, Any]
    ) -> dict[str, Any]:
        row = (
            conn.execute(
                select(EVENTS).where(
                    EVENTS.c.tenant_id == ctx.tenant_id,
                    EVENTS.c.user_id == ctx.user_id,
                    EVENTS.c.event_id == event_id,
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise ToolError("not_found", f"no meeting '{event_id}' on your calendar")
        title = expect.get("title")
        if title is not None and title.strip().lower() != str(row["title"]).strip().lower():
            raise ToolError("invalid_arguments", f"meeting '{event_id}' is not '{title}'")
        shown = expect.get("current_start")
        if shown is not None and self._when(shown, "current_start") != _aware(row["start_at"]):
            raise ToolError("invalid_arguments", f"meeting '{event_id}' does not start at {shown}")
        return dict(row)

    async def undo_booking(self, _args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Compensation of a booking: cancel the meeting that call (its key) created."""
        return await self._cancel_where(ctx, key=ctx.idempotency_key)

    async def _cancel_where(
        self,
        ctx: ToolContext,
        event_id: str | None = None,
        key: str | None = None,
        expect: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        def cancel(conn: Connection) -> dict[str, Any]:
            if event_id is not None and expect:
                self._owned_event(conn, ctx, event_id, expect)
            scope = [EVENTS.c.tenant_id == ctx.tenant_id, EVENTS.c.user_id == ctx.user_id]
            if event_id is not None:
                scope.append(EVENTS.c.event_id == event_id)
            else:
                scope.append(EVENTS.c.idempotency_key == key)
            row = conn.execute(select(EVENTS).where(*scope)).mappings().first()
            if row is None:
                raise ToolError("not_found", f"no meeting '{event_id or key}' on your calendar")
            if row["status"] == "booked":
                conn.execute(
                    update(EVENTS)
                    .where(EVENTS.c.event_id == row["event_id"])
                    .values(status="cancelled", cancelled_at=utcnow())
                )
            return {"event": {**self._public(row), "status": "cancelled"}}

        return await write(ctx.engine, cancel)

    @staticmethod
    def _by_key(conn: Connection, ctx: ToolContext) -> dict[str, Any] | None:
        row = (
            conn.execute(
                select(EVENTS).where(
                    EVENTS.c.tenant_id == ctx.tenant_id,
                    EVENTS.c.user_id == ctx.user_id,
                    EVENTS.c.idempotency_key == ctx.idempotency_key,
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    def confirm_booking(self, args: dict[str, Any]) -> str:
        """The spoken yes/no question before a booking."""
        start = self._when(args["start"], "start").astimezone(self.tz)
        if "end" in args:
            minutes = int((self._when(args["end"], "end") - start).total_seconds() // 60)
        else:
            minutes = int(args.get("duration_minutes", 30))
        when = spoken_moment(start, utcnow().astimezone(self.tz).date())
        people = args.get("attendees") or []
        guests = f", with {', '.join(people[:3])}" if people else ""
        # The pauses a person makes between the details are where speech synthesis may cut
        # the question: its first part plays while the rest is synthesised.
        return f"Should I book '{args['title']}' {when}, for {minutes} minutes{guests}?"

    def confirm_cancel(self, args: dict[str, Any]) -> str:
        """The spoken yes/no question before a cancellation, naming the meeting."""
        return f"Should I cancel {self._described(args)}?"

    def confirm_move(self, args: dict[str, Any]) -> str:
        """The spoken yes/no question before a move: which meeting, and to when."""
        today = utcnow().astimezone(self.tz).date()
        to = spoken_moment(self._when(args["start"], "start").astimezone(self.tz), today)
        return f"Should I move {self._described(args)} to {to.removeprefix('on ')}?"

    def _described(self, args: dict[str, Any]) -> str:
        title = args.get("title")
        name = f"'{title}'" if title else f"meeting {args['event_id']}"
        if "current_start" not in args:
            return name
        today = utcnow().astimezone(self.tz).date()
        start = self._when(args["current_start"], "current_start").astimezone(self.tz)
        return f"{name} {spoken_moment(start, today)}"

    # ----- declarations --------------------------------------------------------------------

    def specs(self) -> list[ToolSpec]:
        """The calendar tools as declared to the registry."""
        window = {
            "date": _DAY,
            "from": _DATETIME,
            "to": _DATETIME,
        }
        # What the person is asked to confirm; the tool refuses a meeting that does not match.
        shown = {
            "title": {"type": "string", "minLength": 1, "maxLength": 300},
            "current_start": _DATETIME,
        }
        event = {
            "type": "object",
            "properties": {"event": {"type": "object", "required": ["event_id", "status"]}},
            "required": ["event"],
        }
        return [
            ToolSpec(
                name="calendar_list_events",
                description=(
                    "List the user's meetings on a day or in a time window, or find meetings "
                    "by words of their title."
                ),
                fn=self.list_events,
                input_schema={
                    "type": "object",
                    "properties": {
                        **window,
                        "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                    "additionalProperties": False,
                },
                risk_level=RiskLevel.PURE_READ,
                scopes=("calendar:read",),
                timeout_s=10,
                max_attempts=2,
            ),
            ToolSpec(
                name="calendar_find_slots",
                description=(
                    "Find free slots of a given length in the user's calendar (and teammates' "
                    "calendars), within working hours, earliest first."
                ),
                fn=self.find_slots,
                input_schema={
                    "type": "object",
                    "properties": {
                        **window,
                        "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 720},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                        "attendees": {
                            "type": "array",
                            "description": "user ids of teammates whose calendars must be free",
                            "items": {"type": "string", "maxLength": 64},
                            "maxItems": 10,
                        },
                    },
                    "additionalProperties": False,
                },
                risk_level=RiskLevel.PURE_READ,
                scopes=("calendar:read",),
                timeout_s=10,
                max_attempts=2,
            ),
            ToolSpec(
                name="calendar_book_meeting",
                description="Book a meeting on the user's calendar (asks the user first).",
                fn=self.book,
                input_schema={
                    "type": "object",
                    "required": ["title", "start"],
                    "properties": {
                        "title": {"type": "string", "minLength": 1, "maxLength": 300},
                        "start": _DATETIME,
                        "end": _DATETIME,
                        "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 720},
                        "attendees": {
                            "type": "array",
                            "items": {"type": "string", "maxLength": 200},
                            "maxItems": 50,
                        },
                        "location": {"type": "string", "maxLength": 300},
                    },
                    "additionalProperties": False,
                },
                result_schema=event,
                risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
                scopes=("calendar:write",),
                timeout_s=10,
                max_attempts=2,
                idempotency=Idempotency.KEYED,
                compensate=self.undo_booking,
                confirm=self.confirm_booking,
            ),
            ToolSpec(
                name="calendar_cancel_meeting",
                description="Cancel one of the user's meetings by its event_id (asks first).",
                fn=self.cancel,
                input_schema={
                    "type": "object",
                    "required": ["event_id"],
                    "properties": {"event_id": {"type": "string", "maxLength": 40}, **shown},
                    "additionalProperties": False,
                },
                result_schema=event,
                risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
                scopes=("calendar:write",),
                timeout_s=10,
                max_attempts=2,
                idempotency=Idempotency.SAFE,
                confirm=self.confirm_cancel,
            ),
            ToolSpec(
                name="calendar_move_meeting",
                description=(
                    "Move one of the user's meetings (event_id) to a new start, keeping its "
                    "length (asks first)."
                ),
                fn=self.move,
                input_schema={
                    "type": "object",
                    "required": ["event_id", "start"],
                    "properties": {
                        "event_id": {"type": "string", "maxLength": 40},
                        "start": _DATETIME,
                        **shown,
                    },
                    "additionalProperties": False,
                },
                result_schema=event,
                risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
                scopes=("calendar:write",),
                timeout_s=10,
                max_attempts=2,
                idempotency=Idempotency.SAFE,
                confirm=self.confirm_move,
            ),
        ]


def teammates(engine: Engine, tenant_id: str) -> list[tuple[str, str | None]]:
    """The tenant's users as (user_id, display name): people whose calendars Baton can see."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(USERS.c.user_id, USERS.c.display_name)
            .where(USERS.c.tenant_id == tenant_id)
            .order_by(USERS.c.user_id)
        ).all()
    return [(r.user_id, r.display_name) for r in rows]


def booked_events(
    engine: Engine, tenant_id: str, user_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The user's booked meetings overlapping [start, end), earliest first (aware UTC times)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(EVENTS)
            .where(
                EVENTS.c.tenant_id == tenant_id,
                EVENTS.c.user_id == user_id,
                EVENTS.c.status == "booked",
                EVENTS.c.start_at < end,
                EVENTS.c.end_at > start,
            )
            .order_by(EVENTS.c.start_at, EVENTS.c.event_id)
        ).mappings()
        return [
            {**dict(r), "start_at": _aware(r["start_at"]), "end_at": _aware(r["end_at"])}
            for r in rows
        ]


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _round_up(at: datetime) -> datetime:
    at = _aware(at).replace(second=0, microsecond=0) + (
        timedelta(minutes=1) if at.second or at.microsecond else timedelta(0)
    )
    extra = at.minute % GRID_MINUTES
    return at + timedelta(minutes=(GRID_MINUTES - extra) % GRID_MINUTES)
