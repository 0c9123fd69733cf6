"""The command agent: a confident parse is the decision; otherwise the model decides.

It runs first in every step (``BATON_UNDERSTANDING=parser_first``). For a recognised command
it resolves the slots through core services (contacts to addresses, a described meeting to its
event id, memories by subject) and returns a strict tool call, one short question, or an
answer. When the tool's result comes back it speaks it from a template, so a small model never
invents a result. Open-ended turns go to the model agent it wraps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from core.config import Settings
from core.contacts.preferences import user_timezone
from core.contacts.service import Contact, NameMatch, list_contacts, resolve_name
from core.ids import utcnow
from core.memory.controls import delete_memory, list_memories
from core.tools.builtin.calendar_tools import booked_events, teammates
from core.tools.spec import RiskLevel
from core.understanding import turns
from core.understanding.command import Command, Intent, ParseContext, PartOfDay
from core.understanding.parser import CONFIDENT, parse
from core.understanding.speech import count, joined, spoken_day, spoken_moment, spoken_time
from models.contract import (
    Agent,
    AgentResult,
    AskHumanDecision,
    ContextPack,
    Decision,
    Message,
    ProposeMemoryDecision,
    RespondDecision,
    ToolCallDecision,
    UnderstandingRecord,
)

OUT_OF_SCOPE = "I can't do that yet. I can help with your calendar, email, notes and reminders."
NOT_UNDERSTOOD = "Sorry, I didn't catch that. Could you say it again?"
UNSURE = "Sorry, I'm not sure what you'd like me to do. Could you say it another way?"
HELP = (
    "I can tell you what's on your calendar, find free time, book, move or cancel meetings, "
    "send emails, take notes and remember things for you. What would you like?"
)
_PARTS = {
    PartOfDay.MORNING: (time(0), time(12)),
    PartOfDay.AFTERNOON: (time(12), time(17)),
    PartOfDay.EVENING: (time(17), time(23, 59)),
}
_DEFAULT_MINUTES = 30
_SEARCH_DAYS = 14
# A meeting asked about by what it is ("when is the budget review") is looked for this far on.
TITLE_SEARCH_DAYS = 30
_TOOL_OF = {
    Intent.CALENDAR_LIST: ("calendar_list_events",),
    Intent.CALENDAR_FREE: ("calendar_find_slots",),
    Intent.CALENDAR_BOOK: ("calendar_book_meeting",),
    Intent.CALENDAR_CANCEL: ("calendar_cancel_meeting",),
    Intent.CALENDAR_MOVE: ("calendar_move_meeting",),
    Intent.EMAIL_SEND: ("email_send", "email_draft"),
    Intent.EMAIL_DRAFT: ("email_draft",),
    Intent.NOTES_SAVE: ("notes_save",),
    Intent.NOTES_SEARCH: ("notes_search",),
}


@dataclass
class _Plan:
    decision: Decision
    resolved: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Call:
    """What a step knows about the caller: time zone, now, contacts, visible tools."""

    pack: ContextPack
    tz: ZoneInfo
    ctx: ParseContext
    contacts: list[Contact]

    @property
    def tools(self) -> set[str]:
        return {t.name for t in self.pack.tools}


class CommandAgent:
    """An :class:`Agent` that decides recognised commands itself and asks ``model`` otherwise."""

    def __init__(
        self,
        model: Agent,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.model = model
        self.engine = engine
        self.settings = settings
        self.clock = clock

    async def decide(self, pack: ContextPack) -> AgentResult:
        """The parser's decision for a confident command, else the model's."""
        result = await asyncio.to_thread(self._understood, pack)
        if result is not None:
            return result
        decided = await self.model.decide(pack)
        record = UnderstandingRecord(stage="model")
        if self._unasked_side_effect(pack, decided.decision):
            # Nothing in the turn asked for an action: a model's guess must not cause one.
            unsure = AskHumanDecision(question=UNSURE)
            return AgentResult(decision=unsure, calls=decided.calls, understanding=record)
        return decided.model_copy(update={"understanding": record})

    @staticmethod
    def _unasked_side_effect(pack: ContextPack, decision: Decision) -> bool:
        if not isinstance(decision, ToolCallDecision) or not pack.messages:
            return False
        if pack.messages[-1].role != "user":
            return False
        risk = next((t.risk_level for t in pack.tools if t.name == decision.tool), 0)
        if risk < RiskLevel.EXTERNAL_DRAFT:
            return False
        said = parse(pack.messages[-1].content, ParseContext(now=utcnow()))
        return said.intent in (Intent.NOT_UNDERSTOOD, Intent.OUT_OF_SCOPE)

    # ----- reading the turn ----------------------------------------------------------------

    def _call(self, pack: ContextPack) -> _Call:
        with self.engine.connect() as conn:
            tz = user_timezone(conn, pack.tenant_id, pack.user_id, self.settings.calendar_timezone)
            contacts = list_contacts(conn, pack.tenant_id, pack.user_id)
        ctx = ParseContext(
            now=self.clock().astimezone(tz), contact_names=[c.name for c in contacts]
        )
        return _Call(pack, tz, ctx, contacts)

    def _understood(self, pack: ContextPack) -> AgentResult | None:
        call = self._call(pack)
        messages = pack.messages or [Message(role="user", content=pack.goal)]
        turn = turns.current_turn(messages, call.ctx)
        if turn is None:
            return None
        command, last = turn.command, messages[-1]
        plan: _Plan | None = None
        if last.role == "tool":
            if last.name in _TOOL_OF.get(command.intent, ()):
                plan = _Plan(RespondDecision(message=self._result(command, last, call)))
        elif last.role == "assistant" and last.content.startswith("(noted for memory:"):
            if command.intent is Intent.MEMORY_REMEMBER:
                plan = _Plan(RespondDecision(message="Got it. I'll remember that."))
        elif last.role == "user" and command.confidence >= CONFIDENT:
            plan = self._act(command, turn.addresses, call, messages)
        if plan is None:
            return None
        record = UnderstandingRecord(
            stage="parser",
            intent=command.intent.value,
            confidence=command.confidence,
            slots=command.slots.model_dump(mode="json", exclude_defaults=True),
            resolved=plan.resolved,
        )
        return AgentResult(decision=plan.decision, understanding=record)

    # ----- acting --------------------------------------------------------------------------

    def _act(
        self, command: Command, addresses: dict[str, str], call: _Call, messages: list[Message]
    ) -> _Plan:
        intent, slots = command.intent, command.slots
        if intent is Intent.OUT_OF_SCOPE:
            return _Plan(RespondDecision(message=OUT_OF_SCOPE))
        if intent is Intent.NOT_UNDERSTOOD:
            return _Plan(RespondDecision(message=NOT_UNDERSTOOD))
        if intent is Intent.HELP:
            return _Plan(RespondDecision(message=HELP))
        if intent is Intent.CANCEL_TASK:
            return _Plan(RespondDecision(message="OK, I'll leave it there."))
        if intent is Intent.REPEAT:
            said = next((m.content for m in reversed(messages) if m.role == "assistant"), None)
            return _Plan(RespondDecision(message=said or "I haven't said anything yet."))
        if intent is Intent.CALENDAR_LIST:
            args = self._window_args(command, call)
            if slots.title:
                # "when is the budget review": the next month from the call, by title.
                if not args:
                    args = {
                        "from": call.ctx.now.isoformat(),
                        "to": (call.ctx.now + timedelta(days=TITLE_SEARCH_DAYS)).isoformat(),
                    }
                args["title"] = slots.title
            return self._tool(call, "calendar_list_events", args)
        if intent is Intent.CALENDAR_FREE:
            args = self._window_args(command, call)
            if slots.duration_minutes:
                args["duration_minutes"] = slots.duration_minutes
            team = self._teammates(slots.attendees, call)
            if team:
                args["attendees"] = list(team.values())
            return self._tool(call, "calendar_find_slots", args, teammates=team)
        if intent is Intent.CALENDAR_BOOK:
            return self._book(command, addresses, call)
        if intent in (Intent.CALENDAR_CANCEL, Intent.CALENDAR_MOVE):
            return self._change_meeting(command, call)
        if intent in (Intent.EMAIL_SEND, Intent.EMAIL_DRAFT):
            return self._email(command, addresses, call)
        if intent is Intent.NOTES_SAVE:
            if not slots.text:
                return _Plan(AskHumanDecision(question=turns.ASK_NOTE))
            return self._tool(call, "notes_save", {"body": slots.text})
        if intent is Intent.NOTES_SEARCH:
            return self._tool(call, "notes_search", {"query": slots.text or ""})
        return self._memory(command, call)

    @staticmethod
    def _tool(call: _Call, tool: str, args: dict[str, Any], **resolved: Any) -> _Plan:
        if tool not in call.tools:
            return _Plan(RespondDecision(message="Sorry, I can't do that here."))
        decision = ToolCallDecision(tool=tool, arguments=args, reason="understood command")
        return _Plan(decision, dict(resolved))

    def _window(self, command: Command, call: _Call) -> tuple[datetime, datetime] | None:
        slots = command.slots
        if slots.date is None:
            return None
        first = datetime.fromisoformat(slots.date).date()
        last = datetime.fromisoformat(slots.date_to).date() if slots.date_to else first
        start = datetime.combine(first, time.min, call.tz)
        end = datetime.combine(last + timedelta(days=1), time.min, call.tz)
        if slots.part_of_day is not None and first == last:
            begin, finish = _PARTS[slots.part_of_day]
            start = datetime.combine(first, begin, call.tz)
            end = datetime.combine(first, finish, call.tz)
        return start, end

    def _window_args(self, command: Command, call: _Call) -> dict[str, Any]:
        window = self._window(command, call)
        if window is None:
            return {}
        slots = command.slots
        if slots.date_to is None and slots.part_of_day is None and slots.date:
            return {"date": slots.date}
        return {"from": window[0].isoformat(), "to": window[1].isoformat()}

    def _people(
        self, names: list[str], addresses: dict[str, str], call: _Call
    ) -> tuple[list[tuple[str, str]], str | None]:
        """Spoken names as (name, address); or the one question that resolves the next name."""
        found: list[tuple[str, str]] = []
        for spoken in names:
            typed = turns.spoken_email(spoken) if "@" in spoken else None
            if typed:
                found.append((typed, typed))
                continue
            if spoken.lower() in addresses:
                found.append((spoken, addresses[spoken.lower()]))
                continue
            match = resolve_name(call.contacts, spoken)
            if match.status is NameMatch.AMBIGUOUS:
                options = joined([c.name for c in match.candidates[:3]], "or")
                return found, f"Which {spoken}: {options}?"
            if match.status is NameMatch.UNIQUE:
                person = match.candidates[0]
                address = person.email or addresses.get(person.name.lower())
                if address:
                    found.append((person.name, address))
                    continue
                return found, f"What's {person.name}'s email address?"
            return found, f"What's {spoken}'s email address?"
        return found, None

    def _teammates(self, names: list[str], call: _Call) -> dict[str, str]:
        """Spoken names that are users of the caller's tenant, as {name: user_id}; a name that
        is a contact counts when the contact's address is a user id."""
        if not names:
            return {}
        users = teammates(self.engine, call.pack.tenant_id)
        ids = {user_id for user_id, _ in users}
        people = [
            Contact(user_id, display or user_id, None, None, (user_id,))
            for user_id, display in users
            if user_id != call.pack.user_id
        ]
        found: dict[str, str] = {}
        for spoken in names:
            match = resolve_name(people, spoken)
            if match.status is NameMatch.UNIQUE:
                found[spoken] = match.candidates[0].contact_id
                continue
            contact = resolve_name(call.contacts, spoken)
            if contact.status is NameMatch.UNIQUE and contact.candidates[0].email in ids:
                found[spoken] = str(contact.candidates[0].email)
        return found

    def _book(self, command: Command, addresses: dict[str, str], call: _Call) -> _Plan:
        slots = command.slots
        people, question = self._people(slots.attendees, addresses, call)
        if question:
            return _Plan(AskHumanDecision(question=question))
        if slots.date is None and slots.time is None:
            return _Plan(AskHumanDecision(question=turns.ASK_WHEN))
        if slots.time is None:
            return _Plan(AskHumanDecision(question=turns.ASK_TIME))
        day = datetime.fromisoformat(slots.date).date() if slots.date else call.ctx.now.date()
        start = datetime.combine(day, time.fromisoformat(slots.time), call.tz)
        if slots.date is None and start <= call.ctx.now:
            start += timedelta(days=1)
        names = [name for name, _ in people]
        title = (slots.title or "").strip()
        if not title:
            title = f"Meeting with {joined(names)}" if names else "Meeting"
        elif names and len(title.split()) == 1:
            title = f"{title.capitalize()} with {joined(names)}"
        else:
            title = title[:1].upper() + title[1:]
        args: dict[str, Any] = {
            "title": title[:300],
            "start": start.isoformat(),
            "duration_minutes": slots.duration_minutes or _DEFAULT_MINUTES,
        }
        if people:
            args["attendees"] = [address for _, address in people]
        return self._tool(
            call,
            "calendar_book_meeting",
            args,
            attendees={name: address for name, address in people},
            start=args["start"],
        )

    def _matching(self, command: Command, call: _Call) -> list[dict[str, Any]]:
        slots = command.slots
        window = self._window(command, call)
        if window is None:
            start = call.ctx.now
            window = (start, start + timedelta(days=_SEARCH_DAYS))
        events = booked_events(
            self.engine, call.pack.tenant_id, call.pack.user_id, window[0], window[1]
        )
        if slots.time:
            at = time.fromisoformat(slots.time)
            events = [e for e in events if e["start_at"].astimezone(call.tz).time() == at]
        words = [w for w in (slots.title or "").lower().split() if len(w) > 1]
        if words:
            titled = [e for e in events if all(w in str(e["title"]).lower() for w in words)]
            titled = titled or [
                e for e in events if any(w in str(e["title"]).lower() for w in words)
            ]
            # A day and a time that pin one meeting outweigh a title the recogniser bent
            # ("the 4-P game meeting" for "the 4 pm meeting"): the yes/no question that
            # follows names the meeting found, so the person confirms the right one.
            pinned = bool(slots.time and slots.date) and len(events) == 1
            events = titled or (events if pinned else [])
        for name in slots.attendees:
            first = name.lower().split()[0]
            events = [
                e
                for e in events
                if first in str(e["title"]).lower()
                or any(first in str(a).lower() for a in e["attendees"] or [])
            ]
        return events

    def _describe(self, event: dict[str, Any], call: _Call, with_day: bool) -> str:
        start = event["start_at"].astimezone(call.tz)
        if with_day:
            return f"{event['title']} {spoken_day(start.date(), call.ctx.now.date())} at " + (
                spoken_time(start, meridiem=False)
            )
        return f"{event['title']} at {spoken_time(start, meridiem=False)}"

    def _change_meeting(self, command: Command, call: _Call) -> _Plan:
        slots = command.slots
        moving = command.intent is Intent.CALENDAR_MOVE
        events = self._matching(command, call)
        if not events:
            what = f"'{slots.title}'" if slots.title else "a meeting"
            when = ""
            if slots.time:
                when += f" at {spoken_time(time.fromisoformat(slots.time))}"
            if slots.date:
                day = datetime.fromisoformat(slots.date).date()
                when += f" {spoken_day(day, call.ctx.now.date())}"
            return _Plan(RespondDecision(message=f"I couldn't find {what}{when} on your calendar."))
        if len(events) > 1:
            several_days = len({e["start_at"].astimezone(call.tz).date() for e in events}) > 1
            options = [self._describe(e, call, several_days) for e in events[:3]]
            return _Plan(AskHumanDecision(question=f"Which one: {joined(options, 'or')}?"))
        event = events[0]
        current = event["start_at"].astimezone(call.tz)
        args: dict[str, Any] = {
            "event_id": event["event_id"],
            "title": event["title"],
            "current_start": current.isoformat(),
        }
        if not moving:
            return self._tool(call, "calendar_cancel_meeting", args, event_id=event["event_id"])
        if slots.new_date is None and slots.new_time is None:
            return _Plan(AskHumanDecision(question=turns.ASK_NEW_TIME))
        day = datetime.fromisoformat(slots.new_date).date() if slots.new_date else current.date()
        at = time.fromisoformat(slots.new_time) if slots.new_time else current.time()
        args["start"] = datetime.combine(day, at, call.tz).isoformat()
        return self._tool(
            call, "calendar_move_meeting", args, event_id=event["event_id"], start=args["start"]
        )

    def _email(self, command: Command, addresses: dict[str, str], call: _Call) -> _Plan:
        slots = command.slots
        if not slots.attendees:
            return _Plan(AskHumanDecision(question=turns.ASK_WHO))
        people, question = self._people(slots.attendees, addresses, call)
        if question:
            return _Plan(AskHumanDecision(question=question))
        if not slots.text:
            return _Plan(AskHumanDecision(question=turns.ASK_BODY))
        subject = slots.subject or " ".join(slots.text.split()[:6])
        args = {
            "to": [address for _, address in people],
            "subject": subject[:1].upper() + subject[1:],
            "body": slots.text,
        }
        tool = "email_draft"
        if command.intent is Intent.EMAIL_SEND and "email_send" in call.tools:
            tool = "email_send"
        return self._tool(call, tool, args, to={name: address for name, address in people})

    def _memory(self, command: Command, call: _Call) -> _Plan:
        tenant, user = call.pack.tenant_id, call.pack.user_id
        text = command.slots.text
        if command.intent is Intent.MEMORY_REMEMBER:
            if not text:
                return _Plan(AskHumanDecision(question=turns.ASK_REMEMBER))
            kind = "preference" if _prefers(text) else "fact"
            return _Plan(
                ProposeMemoryDecision(
                    memory_type=kind,
                    content=text,
                    confidence=0.9,
                    requires_user_confirmation=False,
                )
            )
        memories = [
            m
            for m in list_memories(self.engine, tenant, user, status="active", limit=50)
            if m.get("editable")
        ]
        if command.intent is Intent.MEMORY_LIST:
            if not memories:
                return _Plan(RespondDecision(message="I don't remember anything about you yet."))
            said = "; ".join(str(m["content"]).rstrip(".") for m in memories[:5])
            return _Plan(RespondDecision(message=f"Here's what I remember: {said}."))
        target = _best_memory(memories, text)
        if target is None:
            about = f" about {text}" if text else ""
            return _Plan(RespondDecision(message=f"I don't have anything{about} to forget."))
        # Deleting by id is idempotent: a replayed step finds nothing left to delete.
        delete_memory(self.engine, tenant, user, str(target["memory_id"]))
        return _Plan(
            RespondDecision(message=f"Done. I forgot that {str(target['content']).rstrip('.')}."),
            {"memory_id": target["memory_id"]},
        )

    # ----- speaking results ------------------------------------------------------------------

    def _result(self, command: Command, message: Message, call: _Call) -> str:
        try:
            payload = json.loads(message.content)
        except json.JSONDecodeError:
            payload = {}
        status = payload.get("status")
        if status == "denied":
            return "OK, I won't do that."
        if status != "succeeded":
            reason = str(payload.get("message") or "something went wrong").rstrip(".")
            return f"Sorry, that didn't work: {reason}."
        data = payload.get("data") or {}
        today = call.ctx.now.date()
        if message.name == "calendar_list_events":
            return self._listing(command, data.get("events") or [], call)
        if message.name == "calendar_find_slots":
            return self._free_time(command, data, call)
        if message.name in (
            "calendar_book_meeting",
            "calendar_cancel_meeting",
            "calendar_move_meeting",
        ):
            event = data.get("event") or {}
            start = datetime.fromisoformat(event["start"]).astimezone(call.tz)
            verb = {
                "calendar_book_meeting": "booked",
                "calendar_cancel_meeting": "cancelled",
                "calendar_move_meeting": "moved",
            }[str(message.name)]
            to = " to" if verb == "moved" else ""
            return f"Done. I {verb} {event['title']}{to} {spoken_moment(start, today)}."
        if message.name == "email_send":
            return f"Done. I sent the email to {joined(list(data.get('recipients') or []))}."
        if message.name == "email_draft":
            return f"I saved a draft email to {joined(list(data.get('to') or []))}."
        if message.name == "notes_save":
            return "I saved that note."
        notes = data.get("notes") or []
        if not notes:
            about = f" about {command.slots.text}" if command.slots.text else ""
            return f"I couldn't find any notes{about}."
        found = "; ".join(str(n["body"]).rstrip(".") for n in notes[:3])
        return f"I found {count(len(notes), 'note')}: {found}."

    def _free_time(self, command: Command, data: dict[str, Any], call: _Call) -> str:
        today = call.ctx.now.date()
        team = self._teammates(command.slots.attendees, call)
        unseen = [n for n in command.slots.attendees if n not in team]
        note = f"I can't see {joined(unseen)}'s calendar. " if unseen else ""
        who = f"You and {joined(list(team))} are" if team else "You're"
        starts = [datetime.fromisoformat(s["start"]).astimezone(call.tz) for s in data["slots"]]
        if not starts:
            return f"{note}I couldn't find any free time then."
        days = {s.date() for s in starts[:3]}
        said = [
            (f"{spoken_day(s.date(), today)} at " if len(days) > 1 or i == 0 else "")
            + spoken_time(s)
            for i, s in enumerate(starts[:3])
        ]
        both = " both" if team else ""
        return f"{note}{who}{both} free {joined(said, 'or')}."

    def _listing(self, command: Command, events: list[dict[str, Any]], call: _Call) -> str:
        slots = command.slots
        today = call.ctx.now.date()
        if slots.date and slots.date_to:
            when = "then"
        elif slots.date:
            when = spoken_day(datetime.fromisoformat(slots.date).date(), today)
        elif slots.title:
            when = "in the next month"
        else:
            when = "in the next week"
        if not events and slots.title:
            return f"I don't see {slots.title} on your calendar {when}."
        if not events:
            return f"You have nothing on your calendar {when}."
        starts = [datetime.fromisoformat(e["start"]).astimezone(call.tz) for e in events]
        # Over a window longer than a day, even one meeting needs its day said.
        several_days = len({s.date() for s in starts}) > 1 or not slots.date or bool(slots.date_to)
        items = []
        for event, start in zip(events, starts, strict=True):
            day = f" {spoken_day(start.date(), today)}" if several_days else ""
            items.append(f"{event['title']}{day} at {spoken_time(start, meridiem=False)}")
        shown = items[:5]
        more = f", and {len(items) - 5} more" if len(items) > 5 else ""
        return f"You have {count(len(events), 'meeting')} {when}: {joined(shown)}{more}."


def _prefers(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(("i like", "i prefer", "i love", "i hate", "i don't like", "i want"))


def _best_memory(memories: list[dict[str, Any]], text: str | None) -> dict[str, Any] | None:
    """The memory "forget ..." points at: the newest one for "forget that", else the one
    sharing the most words with what was said."""
    if not memories:
        return None
    if not text:
        return max(memories, key=lambda m: str(m.get("created_at") or ""))
    words = {w.strip(".,'s").lower() for w in text.split() if len(w) > 2}

    def overlap(memory: dict[str, Any]) -> int:
        said = f"{memory.get('subject') or ''} {memory.get('content') or ''}".lower()
        return sum(1 for w in words if w.rstrip("s") in said)

    best = max(memories, key=overlap)
    return best if overlap(best) > 0 else None
