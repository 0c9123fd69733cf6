"""Dates, times, durations and parts of day in a turn's numeric view, resolved against now.

Everything is resolved in the caller's time zone (``now`` is aware and already in it):

- "today", "tomorrow", "the day after tomorrow", "tonight";
- a weekday ("on Wednesday", "next Tuesday", "this Friday") is its next occurrence after today;
  "this <weekday>" too;
- "this week" / "next week" / "this weekend" are ranges (``date`` .. ``date_to``, Monday first),
  as is "between Tuesday and Thursday";
- "the 14th", "December 3rd", "3rd of December", "12/3" and ISO dates are the next such day
  on or after today;
- times: "10", "10:30", "10 30", "2 pm", "3 o'clock", "half past 2", "quarter to 5",
  "20 past 4", "noon", "midnight". A time without am/pm takes the business-hours reading:
  1-7 are afternoon (1 pm-7 pm), 8-11 morning, 12 noon; a part of day said with it wins
  ("8 in the evening" is 20:00);
- durations: "for 30 minutes", "an hour", "half an hour", "an hour and a half", "90 min".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from core.understanding.command import PartOfDay

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WD = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(?:rs?)?|fri)"
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"
_AMPM = r"(a\s?m|p\s?m|a\.m\.?|p\.m\.?)"

_RANGES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(rf"\b(?:between|from) {_WD} (?:and|to|through|thru|till|until) {_WD}\b"),
        "weekday_range",
    ),
    (re.compile(r"\b(?:the )?rest of (?:the|this) week\b"), "rest_week"),
    (re.compile(r"\b(?:this|the) week\b|\bthis week's\b"), "this_week"),
    (re.compile(r"\bnext week\b|\bnext week's\b"), "next_week"),
    (re.compile(r"\bnext weekend\b"), "next_weekend"),
    (re.compile(r"\b(?:this |the |over the )?weekend\b"), "weekend"),
]
# Checked before the ranges: "next week on Wednesday" is a day of next week, not the range.
_WEEK_DAYS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\bnext week(?: on)? {_WD}\b"), "next_week_day"),
    (re.compile(rf"\b(?:a|1) week (?:from|after) (today|tomorrow|{_WD})\b"), "week_from"),
    (re.compile(rf"\b{_WD}(?:'?s)? (?:of )?next week\b"), "next_week_day"),
    (re.compile(r"\bin (?:a|1) week(?:'s time)?\b"), "in_a_week"),
]
_DAYS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "iso"),
    (re.compile(r"\b(?:the )?day after tomorrow\b"), "after_tomorrow"),
    (re.compile(r"\btomorrow(?:'s)?\b|\btmrw\b|\btomorow\b"), "tomorrow"),
    (
        re.compile(
            r"\btoday(?:'s)?\b|\btonight(?:'s)?\b|\bthis (?:morning|afternoon|evening)\b"
            r"|\b(?:the )?rest of (?:the|my) day\b|\blater today\b"
        ),
        "today",
    ),
    (re.compile(rf"\b(next|this|coming|on|for)?\s?{_WD}(?:'?s)?\b(?: next week\b)?"), "weekday"),
    (re.compile(rf"\b{_MONTH}\.? (?:the )?{_ORD}\b(?!\s?(?:am|pm|a\.m|p\.m|:))"), "month_day"),
    (re.compile(rf"\b(?:the )?{_ORD} (?:of )?{_MONTH}\b"), "day_month"),
    (re.compile(r"\b(?:on )?the (\d{1,2})(?:st|nd|rd|th)\b"), "ordinal"),
    # "move it to 9th", "book the review 9th 11am": an ordinal day said without "the".
    (
        re.compile(
            r"\b(?<!my )(?<!the )(?<!a )(?<!your )(?<!our )(\d{1,2})(?:st|nd|rd|th)\b"
            r"(?! (?:meeting|call|thing|time|one|floor|place|of|up|item|appointment|event)\b)"
        ),
        "ordinal",
    ),
    (re.compile(r"\bin (\d{1,2}) days?\b"), "in_days"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})\b"), "slash"),
]
# "how's my week looking", "is my afternoon clear": the caller's own period, when no day is said.
_OWN_PERIOD = re.compile(r"\bmy (week|weekend|morning|afternoon|evening)\b")
_TIMES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:at )?(noon|midday|lunchtime|lunch time)\b"), "noon"),
    (re.compile(r"\b(?:at )?midnight\b"), "midnight"),
    (re.compile(r"\b(?:at )?half past (\d{1,2})\b"), "half_past"),
    (re.compile(r"\b(?:at )?(?:a )?quarter past (\d{1,2})\b"), "quarter_past"),
    (re.compile(r"\b(?:at )?(?:a )?quarter (?:to|till|of) (\d{1,2})\b"), "quarter_to"),
    (re.compile(r"\b(?:at )?(\d{1,2}) (?:minutes? )?(?:past|after) (\d{1,2})\b"), "min_past"),
    (
        re.compile(
            r"\b(?<!from )(?<!between )(?:at )?(\d{1,2}) (?:minutes? )?(?:to|till|before) (\d{1,2})"
            r"\b(?! (?:min|hour))"
        ),
        "min_to",
    ),
    # The space before am/pm is part of it: "at 17:30 thursday" leaves the day its space.
    (re.compile(rf"\b(?:at )?(\d{{1,2}}):(\d{{2}})(?:\s?{_AMPM})?(?![\d])"), "hh_mm"),
    (re.compile(rf"\b(?:at )?(\d{{1,2}}) (?:oh )?(\d{{1,2}})\s?{_AMPM}(?![\w])"), "h_m_ampm"),
    (
        re.compile(r"\bat (\d{1,2}) (?:oh )?([0-5]\d|[1-9])\b(?! (?:min|hour|day|week|people))"),
        "at_h_m",
    ),
    (re.compile(rf"\b(?:at )?(\d{{1,2}})\s?{_AMPM}(?![\w])"), "h_ampm"),
    (re.compile(r"\b(?:at )?(\d{1,2})(?: |-)?o'?\s?clock\b"), "oclock"),
    (
        re.compile(
            r"\b(?:at|around|about|by|after|from|for) (\d{1,2})\b(?!(?::|\s?(?:min|hour|day|week"
            r"|st|nd|rd|th)))(?! (?:people|persons|guests|of us|to \d)\b)"
        ),
        "at_h",
    ),
    # "lunch Bob Friday noon", "book Sean Monday 9": a bare hour closing a day, said tersely.
    (
        re.compile(
            r"(?:(?<=day )|(?<=row )|(?<=day's )|(?<=\dst )|(?<=\dnd )|(?<=\drd )|(?<=\dth ))"
            r"(\d{1,2})(?::(\d{2}))?\s*$"
        ),
        "at_h",
    ),
    # "my 9 30", "a 2 30 meeting", "move my 3 to 4": a clock time naming a meeting.
    (
        re.compile(
            r"\b(?:my|the|a|an|our|your|today's|tomorrow's|\w+day's) (?!\d+ on \d)(\d{1,2})"
            r"(?:[: ](\d{2}))?"
            r"(?= (?:meeting|call|appointment|appt|with|to|on|tomorrow|today|this|next)\b|\s*$)"
        ),
        "named",
    ),
]
# "from 2 to 4", "between 10 and 11:30": a start time and how long, not "2 minutes to 4".
_TIME_RANGE = re.compile(
    rf"\b(?:from|between) (\d{{1,2}})(?::(\d{{2}}))?\s?{_AMPM}? (?:to|till|until|and|-) "
    rf"(\d{{1,2}})(?::(\d{{2}}))?\s?{_AMPM}?(?![\w:])"
)
_PARTS: list[tuple[re.Pattern[str], PartOfDay]] = [
    (re.compile(r"\b(?:mornings?|a\.?m\.? hours|before noon|before lunch)\b"), PartOfDay.MORNING),
    (re.compile(r"\b(?:afternoons?|after lunch)\b"), PartOfDay.AFTERNOON),
    (re.compile(r"\b(?:evenings?|tonight|nights?|after work)\b"), PartOfDay.EVENING),
]
_DURATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:an?|1) hour and a half\b|\b1\.5 hours?\b|\b(?:an? )?hour and 30 min"), "90"),
    (re.compile(r"\b(\d{1,3}) and a half hours?\b"), "h_half"),
    (re.compile(r"\b(?:a )?half(?: an)? hour\b|\bhalf-hour\b"), "30"),
    (re.compile(r"\b(?:a )?quarter (?:of an )?hour\b"), "15"),
    (
        re.compile(
            r"\b(\d{1,2}) (?:free |full |whole |spare |open |extra |solid |clear )?"
            r"(?:hours?|hrs?|h)(?: and (\d{1,2}) min(?:ute)?s?)?\b"
        ),
        "hours",
    ),
    (
        re.compile(
            r"\b(?:an?|one) (?:free |full |whole |spare |open |extra |quick |solid )?(?:hour|hr)"
            r"(?:-long)?\b"
        ),
        "60",
    ),
    (
        re.compile(r"\b(\d{1,3})(?: |-)?(?:free |spare |open |clear )?(?:minutes?|mins?|min)\b"),
        "minutes",
    ),
    (re.compile(r"\b(?:a |one )?couple (?:of )?hours\b"), "120"),
]


@dataclass
class When:
    """What the grammar found, plus the character spans it used (cut from other slots)."""

    date: str | None = None
    date_to: str | None = None
    time: str | None = None
    duration_minutes: int | None = None
    part_of_day: PartOfDay | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)


def _weekday_index(word: str) -> int:
    return next(i for i, name in enumerate(WEEKDAYS) if name.startswith(word[:3]))


def _month_index(word: str) -> int:
    return next(i for i, name in enumerate(MONTHS) if name.startswith(word[:3])) + 1


def _next_month_day(today: date, month: int | None, day: int) -> date | None:
    """The next date on or after today with this day (and month, if given)."""
    if month is not None:
        for year in (today.year, today.year + 1):
            try:
                candidate = date(year, month, day)
            except ValueError:
                return None
            if candidate >= today:
                return candidate
        return None
    for ahead in range(0, 13):
        first = today.replace(day=1) + relativedelta(months=ahead)
        try:
            candidate = first.replace(day=day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _resolve_day(kind: str, m: re.Match[str], today: date) -> tuple[date, date | None] | None:
    if kind == "iso":
        try:
            return date(int(m[1]), int(m[2]), int(m[3])), None
        except ValueError:
            return None
    if kind == "after_tomorrow":
        return today + timedelta(days=2), None
    if kind == "tomorrow":
        return today + timedelta(days=1), None
    if kind == "today":
        return today, None
    if kind == "week_from":
        if m[1] in ("today", "tomorrow"):
            start = today + timedelta(days=int(m[1] == "tomorrow"))
        else:
            start = today + timedelta(days=(_weekday_index(m[1]) - today.weekday() - 1) % 7 + 1)
        return start + timedelta(days=7), None
    if kind == "in_a_week":
        return today + timedelta(days=7), None
    if kind == "next_week_day":
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=_weekday_index(m[1])), None
    if kind == "weekday_range":
        first = today + timedelta(days=(_weekday_index(m[1]) - today.weekday() - 1) % 7 + 1)
        last = first + timedelta(days=(_weekday_index(m[2]) - first.weekday()) % 7)
        return first, last
    if kind == "weekday":
        target = _weekday_index(m[2])
        ahead = (target - today.weekday()) % 7
        if ahead == 0:  # "this Monday" said on a Monday is next week's, as is "Monday"
            ahead = 7
        if m.group(0).endswith("next week"):
            monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
            return monday + timedelta(days=target), None
        return today + timedelta(days=ahead), None
    if kind == "month_day":
        found = _next_month_day(today, _month_index(m[1]), int(m[2]))
        return (found, None) if found else None
    if kind == "day_month":
        found = _next_month_day(today, _month_index(m[2]), int(m[1]))
        return (found, None) if found else None
    if kind == "ordinal":
        day = int(m[1])
        found = _next_month_day(today, None, day) if 1 <= day <= 31 else None
        return (found, None) if found else None
    if kind == "in_days":
        return today + timedelta(days=int(m[1])), None
    if kind == "slash":
        month, day = int(m[1]), int(m[2])
        found = _next_month_day(today, month, day) if 1 <= month <= 12 else None
        return (found, None) if found else None
    monday = today - timedelta(days=today.weekday())
    if kind == "this_week":
        return monday, monday + timedelta(days=6)
    if kind == "rest_week":
        return today, monday + timedelta(days=6)
    if kind == "next_week":
        return monday + timedelta(days=7), monday + timedelta(days=13)
    if kind == "weekend":
        saturday = monday + timedelta(days=5)
        return max(saturday, today), saturday + timedelta(days=1)
    if kind == "next_weekend":
        return monday + timedelta(days=12), monday + timedelta(days=13)
    return None


def business_hour(hour: int, part: PartOfDay | None) -> int:
    """An hour said without am/pm: the part of day if said, else business hours (1-7 pm,
    8-11 am, 12 noon)."""
    if hour >= 13 or hour == 0:
        return hour % 24
    if part is PartOfDay.MORNING:
        return hour % 12
    if part in (PartOfDay.AFTERNOON, PartOfDay.EVENING):
        return hour % 12 + 12
    return hour + 12 if 1 <= hour <= 7 else hour


def _with_meridiem(hour: int, marker: str | None, part: PartOfDay | None) -> int | None:
    if hour > 23:
        return None
    if marker:
        if hour > 12 or hour == 0:
            return None
        pm = marker.replace(" ", "").replace(".", "").startswith("p")
        return hour % 12 + (12 if pm else 0)
    return business_hour(hour, part)


def _resolve_time(kind: str, m: re.Match[str], part: PartOfDay | None) -> str | None:
    hour: int | None
    minute = 0
    if kind == "noon":
        return "12:00"
    if kind == "midnight":
        return "00:00"
    if kind in ("half_past", "quarter_past", "quarter_to"):
        base = business_hour(int(m[1]), part)
        minute = {"half_past": 30, "quarter_past": 15, "quarter_to": -15}[kind]
        hour = base
    elif kind in ("min_past", "min_to"):
        minute, base = int(m[1]), business_hour(int(m[2]), part)
        if minute >= 60:
            return None
        hour = base
        minute = minute if kind == "min_past" else -minute
    elif kind in ("hh_mm", "h_m_ampm"):
        minute = int(m[2])
        hour = _with_meridiem(int(m[1]), m[3], part)
    elif kind == "at_h_m":
        minute = int(m[2])
        hour = _with_meridiem(int(m[1]), None, part)
    elif kind == "named":
        if not 1 <= int(m[1]) <= 12:
            return None
        minute = int(m[2]) if m[2] else 0
        hour = _with_meridiem(int(m[1]), None, part)
    elif kind == "h_ampm":
        hour = _with_meridiem(int(m[1]), m[2], part)
    else:
        hour = _with_meridiem(int(m[1]), None, part)
    if hour is None or not 0 <= minute + 60 < 120:
        return None
    at = datetime(2000, 1, 1, hour % 24) + timedelta(minutes=minute)
    return f"{at:%H:%M}"


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in taken)


def _duration(text: str, taken: list[tuple[int, int]]) -> tuple[int | None, tuple[int, int] | None]:
    for pattern, kind in _DURATIONS:
        for m in pattern.finditer(text):
            if _overlaps(m.span(), taken):
                continue
            if kind == "hours":
                minutes = int(m[1]) * 60 + (int(m[2]) if m[2] else 0)
            elif kind == "h_half":
                minutes = int(m[1]) * 60 + 30
            elif kind == "minutes":
                minutes = int(m[1])
            else:
                minutes = int(kind)
            if 5 <= minutes <= 720:
                return minutes, m.span()
    return None, None


def _time_range(text: str, part: PartOfDay | None) -> tuple[str, int, tuple[int, int]] | None:
    """Start, length and span of "from 2 to 4" (an end before its start is 12 hours on)."""
    m = _TIME_RANGE.search(text)
    if m is None:
        return None
    start = _with_meridiem(int(m[1]), m[3], part)
    end = _with_meridiem(int(m[4]), m[6], part)
    if start is None or end is None:
        return None
    first = start * 60 + int(m[2] or 0)
    last = end * 60 + int(m[5] or 0)
    if last <= first and not m[6] and last + 720 > first:
        last += 720
    if not 0 < last - first <= 720:
        return None
    return f"{first // 60:02d}:{first % 60:02d}", last - first, m.span()


def find_when(text: str, now: datetime) -> When:
    """Every date, range, time, duration and part of day in ``text`` (the numeric view).

    The last date and the last time said win (people correct themselves forwards).
    """
    today = now.date()
    found = When()
    for pattern, part in _PARTS:
        m = pattern.search(text)
        if m:
            found.part_of_day = part
            break
    if (ranged := _time_range(text, found.part_of_day)) is not None:
        found.time, found.duration_minutes, range_span = ranged
        found.spans.append(range_span)
    # Durations first: "for 30 minutes" must not become a time, "in 2 hours" not a date.
    minutes, span = _duration(text, []) if found.duration_minutes is None else (None, None)
    if minutes is not None and span is not None:
        before = text[max(0, span[0] - 16) : span[0]]
        # "in 2 hours" is when; "squeeze in half an hour" is how long.
        if not re.search(
            r"(?<!squeeze )(?<!fit )(?<!pencil )(?<!slot )(?<!put )\b(?:in|at)\s$", before
        ):
            found.duration_minutes = minutes
            found.spans.append(span)
    best_day: tuple[int, date, date | None] | None = None
    for pattern, kind in [*_WEEK_DAYS, *_RANGES, *_DAYS]:
        for m in pattern.finditer(text):
            if _overlaps(m.span(), found.spans):
                continue
            resolved = _resolve_day(kind, m, today)
            if resolved is None:
                continue
            found.spans.append(m.span())
            if best_day is None or m.start() > best_day[0]:
                best_day = (m.start(), *resolved)
    if best_day is None and (own := _OWN_PERIOD.search(text)):
        kind = {"week": "this_week", "weekend": "weekend"}.get(own[1], "today")
        resolved = _resolve_day(kind, own, today)
        if resolved is not None:
            best_day = (own.start(), *resolved)
    if best_day is not None:
        found.date = best_day[1].isoformat()
        found.date_to = best_day[2].isoformat() if best_day[2] else None
    best_time: tuple[int, str] | None = None
    for pattern, kind in _TIMES:
        for m in pattern.finditer(text):
            if _overlaps(m.span(), found.spans):
                continue
            value = _resolve_time(kind, m, found.part_of_day)
            if value is None:
                continue
            found.spans.append(m.span())
            if best_time is None or m.start() > best_time[0]:
                best_time = (m.start(), value)
    if best_time is not None:
        found.time = best_time[1]
    if found.time is None and found.date is None and "tonight" in text:
        found.date = today.isoformat()
    return found


def find_when_split(text: str, now: datetime, marker: re.Pattern[str]) -> tuple[When, When]:
    """Two ``When`` for a move: what is said before the last ``marker`` ("to") and after."""
    cuts = [m for m in marker.finditer(text)]
    for m in reversed(cuts):
        after = find_when(text[m.end() :], now)
        if not after.time:
            # "move it to 4", "to nine thirty tomorrow": after "to", a bare number is a time.
            bare = find_when(f"at{text[m.end() :]}", now)
            bare.spans = [(s - 2, e - 2) for s, e in bare.spans]
            after = bare if bare.time else after
        if after.date or after.time:
            after.spans = [(s + m.end(), e + m.end()) for s, e in after.spans]
            return find_when(text[: m.start()], now), after
    return find_when(text, now), When()
