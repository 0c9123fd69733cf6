"""A fresh, throw-away SQLite store per eval case, seeded, with the agent and gate a case uses.

The database is migrated once per session and copied for each case, so a case never sees
another's runs, memories or tool state. Nothing external happens: the SMTP target points at a
port nobody listens on, and no web or MCP tool is configured.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from core.agent.scripted import ScriptedAgent
from core.agent.step import Observer, StepRunner
from core.auth.keys import ensure_user
from core.config import Settings, get_settings
from core.contacts.service import ContactDraft, create_contact
from core.evals.suite import Case, Seed
from core.ids import utcnow
from core.runs.service import RunStore
from core.store.db import make_engine
from core.store.migrate import upgrade
from core.store.tables import Checkpoint
from core.tools.builtin.notes_tools import save_note
from core.tools.gate import ToolGate
from core.tools.guards import Guards
from core.tools.providers import build_registry
from core.tools.registry import ToolRegistry
from core.tools.spec import ToolContext
from core.worker.leases import claim, release
from models.contract import Agent, AgentError, AgentResult, ContextPack

TENANT = "eval"
USER = "alice"
# The reference time of every case (the understanding corpus's: Monday 09:00 in New York).
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
# An address nothing listens on: a risky call that slips through fails instead of sending.
NOWHERE_SMTP = "smtp://127.0.0.1:9?timeout=2"
CHECKPOINTS = Checkpoint.__table__  # type: ignore[attr-defined]


class NoModel:
    """The agent behind the parser in --quick: any turn the parser leaves to a model fails."""

    async def decide(self, pack: ContextPack) -> AgentResult:
        """Refuse: quick evals run no model inference."""
        raise AgentError("no model in --quick: the parser did not decide this turn")


class Crash(Exception):
    """Raised at a step boundary to stop a worker dead (the lease stays taken)."""


@dataclass
class CaseStore:
    """One case's database and what was seeded into it."""

    engine: Engine
    settings: Settings
    tools: ToolRegistry
    memory_ids: dict[str, str] = field(default_factory=dict)

    def gate(self) -> ToolGate:
        """A gate over the session's tools with fresh rate limits and breakers, as a new
        process has them."""
        s = self.settings
        guards = Guards(
            rate_per_minute=s.tool_rate_per_minute,
            rate_burst=s.tool_rate_burst,
            user_rate_per_minute=s.tool_user_rate_per_minute,
            user_rate_burst=s.tool_user_rate_burst,
            breaker_failures=s.tool_breaker_failures,
            breaker_cooldown_s=s.tool_breaker_cooldown_seconds,
        )
        registry = ToolRegistry(self.tools.all(), policy=self.tools.policy, guards=guards)
        return ToolGate(registry, retry_wait_s=0.01)

    def store(self) -> RunStore:
        """The run service of this store."""
        return RunStore(self.engine, self.settings)


def case_settings(base: Settings, data_dir: Path, db: Path) -> Settings:
    """The process settings with this case's store and no external targets."""
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": f"sqlite:///{db}",
            "smtp_url": NOWHERE_SMTP,
            "http_allowlist": "",
            "mcp_servers": {},
            "skills_dirs": "",
        }
    )


class EvalSession:
    """Hands out fresh stores copied from one migrated template."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._dir = tempfile.TemporaryDirectory(prefix="baton-eval-")
        self.root = Path(self._dir.name)
        self.template = self.root / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        upgrade(engine)
        engine.dispose()  # folds the WAL into the file that is copied
        # Built once: checking every tool's schemas is most of a small case's cost.
        self.tools = build_registry(case_settings(self.settings, self.root, self.template))
        self._count = 0

    def close(self) -> None:
        """Release the tools and remove every case's files."""
        self.tools.close()
        self._dir.cleanup()

    @contextmanager
    def case_store(self, seed: Seed | None = None) -> Iterator[CaseStore]:
        """A freshly migrated store with ``seed`` in it, removed afterwards."""
        self._count += 1
        folder = self.root / f"case-{self._count}"
        folder.mkdir()
        db = folder / "baton.db"
        shutil.copy(self.template, db)
        engine = make_engine(f"sqlite:///{db}")
        try:
            cs = CaseStore(engine, case_settings(self.settings, folder, db), self.tools)
            if seed is not None:
                plant(cs, seed)
            yield cs
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)


def plant(cs: CaseStore, seed: Seed) -> None:
    """Write the seed through core's own services."""
    users = {USER, *(m.user for m in seed.memories), *(c.user for c in seed.contacts)}
    with cs.engine.begin() as conn:
        for user in sorted(users | {n.user for n in seed.notes}):
            ensure_user(conn, TENANT, user)
        for c in seed.contacts:
            create_contact(conn, TENANT, c.user, ContactDraft(name=c.name, email=c.email))
    if seed.memories:
        _plant_memories(cs, seed)
    for i, note in enumerate(seed.notes):
        ctx = ToolContext(TENANT, note.user, "run_seed", 0, f"seed-note-{i}", cs.engine)
        args: dict[str, Any] = {"body": note.body, **({"title": note.title} if note.title else {})}
        asyncio.run(save_note(args, ctx))


def _plant_memories(cs: CaseStore, seed: Seed) -> None:
    from core.memory import records
    from core.memory.embedding import get_embedder

    vectors = get_embedder().embed([m.content for m in seed.memories])
    now = utcnow()
    with cs.engine.begin() as conn:
        for memory, vector in zip(seed.memories, vectors, strict=True):
            stored = records.insert_memory(
                conn,
                tenant_id=TENANT,
                user_id=memory.user,
                scope="user",
                scope_ref=memory.user,
                subject=f"user:{memory.user}",
                memory_type=memory.memory_type,
                content=memory.content,
                source_run_id="run_seed",
                source_message=f"seed:{memory.key}",
                confidence=0.9,
                embedding=vector,
                now=now - timedelta(days=30) if memory.expired else now,
                expires_at=now - timedelta(days=1) if memory.expired else None,
            )
            cs.memory_ids[memory.key] = str(stored["memory_id"])


def case_agent(case: Case, cs: CaseStore, model: Agent | None) -> Agent:
    """The scripted agent for a scripted case; else the parser-first agent over ``model``
    (or over :class:`NoModel` when there is none)."""
    if case.script is not None:
        return ScriptedAgent()
    from core.understanding.agent import CommandAgent

    return CommandAgent(model or NoModel(), cs.engine, cs.settings, clock=lambda: NOW)


@dataclass
class Driven:
    """A run driven to rest: its id, final view, events and the time it took."""

    run_id: str
    run: dict[str, Any]
    events: list[dict[str, Any]]
    latency_ms: float
    crashed: bool = False


def start_run(cs: CaseStore, case: Case) -> str:
    """Create the case's run (with its script, when it has one)."""
    meta = {"script": case.script} if case.script is not None else None
    made = cs.store().create_run(
        TENANT, USER, case.request, channel="api", meta=meta, max_steps=case.max_steps
    )
    return str(made["run_id"])


def drive(
    cs: CaseStore,
    run_id: str,
    agent: Agent,
    gate: ToolGate,
    observer: Observer | None = None,
    lease_ttl_s: float = 30.0,
    approve: bool = False,
) -> Driven:
    """Step the run in this process until it rests (with ``approve``, granting each approval
    it waits for). A :class:`Crash` from ``observer`` ends the drive with the lease still
    held, as a killed worker leaves it."""
    runner = StepRunner(cs.engine, agent, gate, observer=observer)
    store = cs.store()
    started = time.monotonic()
    crashed = False
    for _ in range(200):
        lease = claim(cs.engine, "eval", lease_ttl_s, run_id=run_id)
        if lease is None:
            pending = store.get_run(TENANT, USER, run_id).get("pending_approval_id")
            if not (approve and pending):
                break
            store.decide_approval(TENANT, USER, run_id, str(pending), True, channel="api")
            continue
        try:
            while asyncio.run(runner.run_step(lease)):
                pass
        except Crash:
            crashed = True
            break
        release(cs.engine, lease)
    latency = (time.monotonic() - started) * 1000
    return Driven(
        run_id,
        store.get_run(TENANT, USER, run_id),
        store.events(TENANT, USER, run_id, limit=5000),
        latency,
        crashed,
    )


def context_refs(cs: CaseStore, run_id: str) -> set[str]:
    """Every source that entered one of the run's context packs (kept in its checkpoints)."""
    with cs.engine.connect() as conn:
        rows = conn.execute(
            select(CHECKPOINTS.c.model_call_json).where(CHECKPOINTS.c.run_id == run_id)
        ).scalars()
        return {str(ref) for call in rows if call for ref in call.get("refs", [])}
