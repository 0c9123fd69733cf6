"""A caller's world for command tests: contacts, meetings, a fixed clock, a model that must not
be asked, and runs driven through the real step code."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.config import Settings
from core.contacts.service import ContactDraft, create_contact
from core.runs.service import RunStore
from core.tools.builtin import builtin_tools
from core.tools.builtin.calendar_tools import CalendarTools
from core.tools.gate import ToolGate
from core.tools.registry import ToolRegistry
from core.tools.spec import ToolContext
from core.understanding.agent import CommandAgent
from models.contract import AgentResult, ContextPack
from tests.core.helpers import drive

TENANT, USER = "acme", "alice"
# Monday 7 January 2030, 09:00 UTC (the calendar's default time zone).
NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
CONTACTS = [
    ("Alice Smith", "alice.smith@example.com"),
    ("Alice Wong", "alice.wong@example.com"),
    ("Bob Jones", "bob@example.com"),
    ("Carol Diaz", "carol@example.com"),
    ("Dave Miller", None),
]
MEETINGS = [
    ("Standup", "2030-01-09T09:00:00+00:00", 15),
    ("Lunch with Carol", "2030-01-09T12:30:00+00:00", 60),
    ("Budget review", "2030-01-14T16:00:00+00:00", 60),
    ("Standup", "2030-01-14T09:00:00+00:00", 15),
    ("Standup", "2030-01-11T09:00:00+00:00", 15),
    ("Design review", "2030-01-11T16:00:00+00:00", 30),
]


class ModelMustNotBeCalled:
    """The model agent behind the command layer; a recognised command never reaches it."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def decide(self, pack: ContextPack) -> AgentResult:
        self.asked.append(pack.messages[-1].content if pack.messages else pack.goal)
        raise AssertionError(f"the model was asked about {self.asked[-1]!r}")


def settings(tmp_path: Path, **extra: Any) -> Settings:
    """Settings of a test process (no sandbox, no plugins)."""
    return Settings(data_dir=tmp_path, sandbox_bwrap="/nonexistent/bwrap", plugins="none", **extra)


def gate(s: Settings) -> ToolGate:
    """The built-in tools behind the real gate."""
    return ToolGate(ToolRegistry(builtin_tools(s)), retry_wait_s=0.01)


def seed(engine: Engine, s: Settings) -> None:
    """Contacts and meetings of the caller; one meeting of another user at the same time."""
    with engine.begin() as conn:
        for name, email in CONTACTS:
            create_contact(conn, TENANT, USER, ContactDraft(name=name, email=email))
    tools = CalendarTools(s)
    for i, (title, start, minutes) in enumerate(MEETINGS):
        for user in (USER, "mallory") if i == 2 else (USER,):
            ctx = ToolContext(TENANT, user, "run_seed", 1, f"seed-{user}-{i}", engine)
            args = {"title": title, "start": start, "duration_minutes": minutes}
            asyncio.run(tools.book(args, ctx))


def command_agent(engine: Engine, s: Settings) -> CommandAgent:
    """The command layer in front of a model that must not be called."""
    return CommandAgent(ModelMustNotBeCalled(), engine, s, clock=lambda: NOW)


def run_command(engine: Engine, s: Settings, text: str, **run: Any) -> dict[str, Any]:
    """Start a run with ``text`` and drive it until it waits, finishes or fails."""
    store = RunStore(engine)
    created = store.create_run(TENANT, USER, text, **run)
    drive(engine, gate(s), command_agent(engine, s))
    return store.get_run(TENANT, USER, created["run_id"])


def say(engine: Engine, s: Settings, run_id: str, text: str) -> dict[str, Any]:
    """Answer a waiting run and drive it again."""
    store = RunStore(engine)
    store.post_message(TENANT, USER, run_id, text)
    drive(engine, gate(s), command_agent(engine, s))
    return store.get_run(TENANT, USER, run_id)


def approve(engine: Engine, s: Settings, run_id: str, yes: bool = True) -> dict[str, Any]:
    """Decide the run's pending approval and drive it again."""
    store = RunStore(engine)
    pending = store.pending_approval(TENANT, USER, run_id)
    assert pending is not None
    store.decide_approval(TENANT, USER, run_id, pending["approval_id"], yes)
    drive(engine, gate(s), command_agent(engine, s))
    return store.get_run(TENANT, USER, run_id)


def events(engine: Engine, run_id: str, kind: str) -> list[dict[str, Any]]:
    """The run's events of one type, oldest first."""
    return [
        e["data"]
        for e in RunStore(engine).events(TENANT, USER, run_id, limit=1000)
        if e["type"] == kind
    ]


@dataclass(frozen=True)
class SeededWeek:
    """A real-clock calendar: standup at 9 and lunch at 12:30 on ``meetings_day``, a quarterly
    review at 4 pm on ``review_day``; ``ids`` maps each title to its event."""

    meetings_day: date
    review_day: date
    ids: dict[str, str]

    @property
    def meetings_answer(self) -> str:
        """What the caller hears when asking for ``meetings_day``."""
        return (
            f"You have two meetings on {self.meetings_day:%A}: Standup at 9 and Lunch with "
            "Carol at 12:30."
        )


def seed_week(engine: Engine, tools: CalendarTools, user: str = USER) -> SeededWeek:
    """Book the meetings of :class:`SeededWeek` for ``user`` of ``TENANT``."""
    today = datetime.now(UTC).date()
    # Three and five days on: replies name them by weekday ("on Friday"), never "today" or
    # "tomorrow", even when a test runs across midnight.
    meetings_day, review_day = today + timedelta(days=3), today + timedelta(days=5)
    ids: dict[str, str] = {}
    for title, day, at, minutes in [
        ("Standup", meetings_day, "09:00", 15),
        ("Lunch with Carol", meetings_day, "12:30", 60),
        ("Quarterly review", review_day, "16:00", 60),
    ]:
        ctx = ToolContext(TENANT, user, "run_seed", 1, f"seed-{title}", engine)
        args = {"title": title, "start": f"{day}T{at}:00+00:00", "duration_minutes": minutes}
        booked = asyncio.run(tools.book(args, ctx))
        ids[title] = booked["event"]["event_id"]
    return SeededWeek(meetings_day, review_day, ids)
