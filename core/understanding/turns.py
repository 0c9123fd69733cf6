"""The command a conversation is on: the last turn, merged with a command it answers.

Stateless and durable: the partial command is never stored on its own. It is re-derived from
the run's checkpointed messages: when the agent's last words were one of its own slot
questions ("What day and time?"), the turn before that question is parsed again and the
answer's slots are merged in. A hang-up and call back therefore continue where they stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.understanding.command import Command, Intent, ParseContext
from core.understanding.parser import parse
from models.contract import Message

# The questions the command agent asks to fill a slot; an answer merges into the command.
ASK_WHEN = "What day and time?"
ASK_TIME = "What time?"
ASK_DAY = "What day?"
ASK_NEW_TIME = "When should I move it to?"
ASK_BODY = "What should the email say?"
ASK_NOTE = "What should the note say?"
ASK_WHO = "Who should I email?"
ASK_REMEMBER = "What should I remember?"
_SLOT_QUESTION = re.compile(
    r"^(?:What day and time\?|What time\?|What day\?|When should I move it to\?"
    r"|What should the (?:email|note) say\?|Who should I email\?|What should I remember\?"
    r"|Which one: .*|Which \w+: .*|What's .+'s email address\?)$"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Turn:
    """The command being worked on, and any email address the person spelled out."""

    command: Command
    addresses: dict[str, str]


def spoken_email(text: str) -> str | None:
    """An address said aloud ("bob at example dot com") or typed."""
    said = re.sub(r"\s+at\s+", "@", text.strip().lower())
    said = re.sub(r"\s+dot\s+", ".", said).replace(" ", "")
    m = _EMAIL.search(said) or _EMAIL.search(text)
    return m.group(0) if m else None


def _merge(pending: Command, answer: Command, question: str) -> tuple[Command, dict[str, str]]:
    slots = pending.slots.model_copy(deep=True)
    got = answer.slots
    addresses: dict[str, str] = {}
    if question in (ASK_BODY, ASK_NOTE, ASK_REMEMBER):
        slots.text = got.text
    elif question.startswith("What's "):
        name = question.removeprefix("What's ").split("'s email address")[0]
        address = spoken_email(got.text or "")
        if address:
            addresses[name.lower()] = address
    elif question == ASK_WHO:
        slots.attendees = got.attendees
    elif question.startswith("Which one:"):
        slots.time = got.time or slots.time
        words = re.sub(
            r"\b(?:the|one|at|on|with|please|that|meeting)\b", " ", (got.text or "").lower()
        )
        rest = re.sub(r"[^a-z ]", " ", words).split()
        if rest and not got.time:
            slots.title = " ".join(rest)
    elif question.startswith("Which "):
        spoken = question.removeprefix("Which ").split(":")[0]
        choice = got.attendees[0] if got.attendees else (got.text or "")
        slots.attendees = [choice if a.lower() == spoken.lower() else a for a in slots.attendees]
    else:
        for field in ("date", "date_to", "time", "duration_minutes", "part_of_day"):
            value = getattr(got, field)
            if value is None:
                continue
            if pending.intent is Intent.CALENDAR_MOVE and field in ("date", "time"):
                setattr(slots, f"new_{field}", value)
            else:
                setattr(slots, field, value)
    return pending.model_copy(update={"slots": slots}), addresses


def current_turn(messages: list[Message], ctx: ParseContext) -> Turn | None:
    """The command of the conversation's latest user turn (None when there is none)."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        return None
    return _turn_at(messages, users[-1], ctx, depth=0)


def _turn_at(messages: list[Message], index: int, ctx: ParseContext, depth: int) -> Turn:
    command = parse(messages[index].content, ctx)
    answering = command.intent is Intent.NOT_UNDERSTOOD and command.confidence < 0.9
    if not answering or depth > 4 or index < 2:
        return Turn(command, {})
    asked = messages[index - 1]
    if asked.role != "assistant" or not _SLOT_QUESTION.match(asked.content):
        return Turn(command, {})
    before = next((i for i in range(index - 2, -1, -1) if messages[i].role == "user"), None)
    if before is None:
        return Turn(command, {})
    pending = _turn_at(messages, before, ctx, depth + 1)
    merged, addresses = _merge(pending.command, command, asked.content)
    return Turn(merged, {**pending.addresses, **addresses})
