"""Spoken words for dates, times and lists: the templates' vocabulary.

Times are said the way people say them ("9 AM", "12:30 PM"); days relative to today when close
("today", "tomorrow", "on Wednesday"), else with the date ("on Thursday, December 10th").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def ordinal(n: int) -> str:
    """1 -> 1st, 22 -> 22nd, 13 -> 13th."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def spoken_time(at: time | datetime, meridiem: bool = True) -> str:
    """10:00 -> "10 AM", 12:30 -> "12:30 PM"; without meridiem "10", "12:30"."""
    hour = at.hour % 12 or 12
    text = f"{hour}" if at.minute == 0 else f"{hour}:{at.minute:02d}"
    if at.hour == 12 and at.minute == 0 and meridiem:
        return "noon"
    if not meridiem:
        return text
    return f"{text} {'AM' if at.hour < 12 else 'PM'}"


def full_date(day: date) -> str:
    """ "Tuesday, December 1st"."""
    return f"{day:%A}, {day:%B} {ordinal(day.day)}"


def spoken_day(day: date, today: date) -> str:
    """ "today", "tomorrow", "on Wednesday" (this coming week), else "on Thursday, December
    10th"."""
    ahead = (day - today).days
    if ahead == 0:
        return "today"
    if ahead == 1:
        return "tomorrow"
    if 1 < ahead < 7:
        return f"on {day:%A}"
    return f"on {full_date(day)}"


def spoken_moment(at: datetime, today: date) -> str:
    """ "tomorrow, Tuesday December 1st, at 10 AM" / "on Thursday, December 10th at 2 PM"."""
    day = at.date()
    relative = spoken_day(day, today)
    if relative in ("today", "tomorrow"):
        return f"{relative}, {full_date(day).replace(',', '')}, at {spoken_time(at)}"
    return f"{relative} at {spoken_time(at)}"


def count(n: int, noun: str) -> str:
    """2, "meeting" -> "two meetings"."""
    word = NUMBERS[n] if 0 <= n < len(NUMBERS) else str(n)
    return f"{word} {noun}{'' if n == 1 else 's'}"


def joined(items: Sequence[str], last: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"
