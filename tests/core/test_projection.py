"""The runs row is the fold of the run's events and nothing else: runs taken through every
event type the code emits end with a stored row equal to the rebuilt one (SQLite and
Postgres), and a type the projection does not know is refused before anything is written."""

from __future__ import annotations

import ast
import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from core.agent.invocation_ledger import INVOCATIONS, idempotency_key
from core.agent.scripted import ScriptedAgent
from core.agent.step import BEFORE_MODEL, StepRunner
from core.artifacts.service import create_artifact
from core.config import Settings
from core.ids import hash_json, new_id, utcnow
from core.memory.pipeline import process_proposals
from core.runs.events import EventType, UnknownEventType
from core.runs.log import RunWriter
from core.runs.projection import FIELD_EFFECT, PROJECTED, STATUS_EFFECT
from core.runs.service import RunStore
from core.runs.states import TERMINAL
from core.runs.surface_events import record_run_event
from core.tools.gate import ToolGate
from core.tools.providers import build_registry
from core.tools.spec import ToolContext, ToolError, ToolResult, ToolSpec
from core.worker.leases import claim
from tests.core.helpers import bump_spec, count, drive, ensure_side_effects

ROOT = Path(__file__).resolve().parents[2]
BOOK = {"title": "Budget review", "start": "2031-03-04T10:00:00+00:00", "duration_minutes": 30}
SKILL = """---
name: renewal-plan
description: Create renewal plans for customer accounts.
---

# Renewal Plan
"""


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "tool": tool, "arguments": arguments}


def emitted_literals() -> set[str]:
    """Every event type the source appends by name: ``emit("X", ...)`` and
    ``record_run_event(..., "X", ...)`` across core, voice and handoff."""
    found: set[str] = set()
    for package in ("core", "voice", "handoff"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name not in ("emit", "record_run_event"):
                    continue
                found |= {
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and arg.value[:1].isupper()
                    and arg.value.isalpha()
                }
    return found


def test_every_event_type_the_code_appends_is_known_and_handled_by_the_projection():
    literals = emitted_literals()
    assert literals, "the scan found no emit calls"
    assert literals <= {t.value for t in EventType}, literals - {t.value for t in EventType}
    assert set(STATUS_EFFECT) == set(EventType)
    assert set(FIELD_EFFECT) == set(EventType)


def test_an_unknown_event_type_is_refused_and_nothing_is_written(engine):
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "hello")
    with engine.begin() as conn, pytest.raises(UnknownEventType, match="NoteTaken"):
        RunWriter.open(conn, run["run_id"]).emit("NoteTaken", {})
    assert [e["type"] for e in store.events("acme", "alice", run["run_id"])] == [
        "RunCreated",
        "RunQueued",
    ]


# ----- runs through every event type ------------------------------------------------------


async def broken(_args: dict[str, Any], _ctx: ToolContext) -> None:
    raise ToolError("upstream_unavailable", "the archive is down")


async def echo(args: dict[str, Any], _ctx: ToolContext) -> dict[str, Any]:
    return {"echo": args}


def gate_for(tmp_path: Path) -> ToolGate:
    skills = tmp_path / "skills"
    (skills / "renewal-plan").mkdir(parents=True)
    (skills / "renewal-plan" / "SKILL.md").write_text(SKILL)
    settings = Settings(
        data_dir=tmp_path, sandbox_bwrap="/nonexistent/bwrap", skills_dirs=str(skills)
    )
    registry = build_registry(settings)
    registry.register(bump_spec())
    registry.register(ToolSpec(name="archive", description="archive", fn=broken))
    # One call at once per user, then one each three seconds: the second call is deferred.
    registry.register(
        ToolSpec(
            name="limited",
            description="limited",
            fn=echo,
            input_schema={"type": "object"},
            user_rate_per_minute=20,
            user_rate_burst=1,
        )
    )
    return ToolGate(registry, retry_wait_s=0.01)


def settle(engine: Any, gate: ToolGate, store: RunStore, run_id: str) -> dict[str, Any]:
    """Step runs until this one rests (waits for a person or is finished); a deferred call
    is waited for, as a worker would."""
    deadline = time.monotonic() + 60
    while True:
        drive(engine, gate)
        run = store.get_run("acme", "alice", run_id)
        if run["status"] == "waiting_for_human" or run["status"] in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"run stayed {run['status']}"
        time.sleep(0.02)


def assert_row_is_the_fold(store: RunStore, run_id: str) -> None:
    row = store.get_run("acme", "alice", run_id)
    rebuilt = store.rebuilt_view("acme", "alice", run_id)
    assert {k: row[k] for k in PROJECTED} == rebuilt


def types_of(store: RunStore, run_id: str) -> set[str]:
    return {e["type"] for e in store.events("acme", "alice", run_id)}


def test_runs_through_every_event_type_rebuild_to_their_stored_rows(engine, tmp_path):
    ensure_side_effects(engine)
    gate = gate_for(tmp_path)
    store = RunStore(engine)
    seen: set[str] = set()

    # One run through tools, skills, memory, questions and every kind of approval decision.
    script = [
        call("activate_skill", name="renewal-plan"),
        call("limited", n=1),
        call("limited", n=2),
        call("archive"),
        call("no_such_tool"),
        {"type": "propose_memory", "memory_type": "preference", "content": "Prefers metric."},
        {"type": "ask_human", "question": "Which day?"},
        call("calendar_book_meeting", **BOOK),
        call("calendar_book_meeting", **{**BOOK, "title": "Denied"}),
        call("calendar_book_meeting", **{**BOOK, "title": "Superseded"}),
        {"type": "respond", "message": "done"},
    ]
    goal = "Remember that I prefer metric units, then plan the renewal."
    main = store.create_run("acme", "alice", goal, meta={"script": script})["run_id"]
    assert settle(engine, gate, store, main)["status"] == "waiting_for_human"
    store.post_message("acme", "alice", main, "Friday")
    for decide in (True, False):
        waiting = settle(engine, gate, store, main)
        store.decide_approval("acme", "alice", main, waiting["pending_approval_id"], decide)
        assert_row_is_the_fold(store, main)
    assert settle(engine, gate, store, main)["pending_approval_id"] is not None
    store.post_message("acme", "alice", main, "Never mind that one.")
    assert store.get_run("acme", "alice", main)["pending_approval_id"] is None
    assert_row_is_the_fold(store, main)
    assert settle(engine, gate, store, main)["status"] == "completed"
    process_proposals(engine)
    create_artifact(
        engine,
        tenant_id="acme",
        user_id="alice",
        run_id=main,
        name="Plan",
        content_type="text/plain",
        data=b"the plan",
        idempotency_key=f"plan:{main}",
        settings=Settings(data_dir=tmp_path),
    )
    record_run_event(engine, "acme", "alice", main, EventType.HANDOFF_REQUESTED, {"reason": "long"})
    assert_row_is_the_fold(store, main)
    seen |= types_of(store, main)

    # A run cancelled, resumed, abandoned by a dead worker, taken over and failed on its limit.
    script = [call("counter.bump", n=0), call("counter.bump", n=1)]
    limited = store.create_run("acme", "alice", "bump twice", meta={"script": script}, max_steps=2)[
        "run_id"
    ]
    store.cancel("acme", "alice", limited)
    store.resume("acme", "alice", limited)

    def die(boundary: str, _run_id: str, _step: int) -> None:
        if boundary == BEFORE_MODEL:
            raise RuntimeError("worker died")

    lease = claim(engine, "doomed", 0)
    assert lease is not None
    with pytest.raises(RuntimeError):
        asyncio.run(StepRunner(engine, ScriptedAgent(), gate, observer=die).run_step(lease))
    failed = settle(engine, gate, store, limited)
    assert failed["status"] == "failed" and "step limit" in failed["failure_reason"]
    assert_row_is_the_fold(store, limited)
    seen |= types_of(store, limited)

    # A run whose call was already recorded as done (an earlier attempt): it is replayed.
    jazz = {"type": "propose_memory", "memory_type": "preference", "content": "Likes jazz."}
    script = [call("counter.bump", n=7), {**jazz, "confidence": 0.9}]
    replayed = store.create_run("acme", "alice", "bump seven", meta={"script": script})["run_id"]
    arguments = {"n": 7}
    with engine.begin() as conn:
        conn.execute(
            insert(INVOCATIONS).values(
                tool_call_id=new_id("tc"),
                run_id=replayed,
                tenant_id="acme",
                user_id="alice",
                step=1,
                tool_name="counter.bump",
                arguments_json=arguments,
                arguments_hash=hash_json(arguments),
                idempotency_key=idempotency_key(replayed, 1, "counter.bump", arguments),
                status="succeeded",
                attempts=1,
                started_at=utcnow(),
                completed_at=utcnow(),
                result_json=ToolResult.ok({"bumped": 7}).model_dump(mode="json"),
            )
        )
    assert settle(engine, gate, store, replayed)["status"] == "completed"
    process_proposals(engine)
    assert_row_is_the_fold(store, replayed)
    seen |= types_of(store, replayed)

    assert seen == {t.value for t in EventType}, {t.value for t in EventType} - seen
    # the replayed call did not run again
    assert (
        count(engine, "select count(*) from test_side_effects where run_id = :r", r=replayed) == 0
    )
