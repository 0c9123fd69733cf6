"""A call the gate refuses only for now (rate limit, paused tool) waits and is proposed again,
unchanged, after the wait the gate named; the agent hears of a refusal only when it is final
(SQLite and Postgres)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from core.agent.scripted import ScriptedAgent
from core.config import Settings, get_settings
from core.ids import utcnow
from core.runs.log import EVENTS
from core.runs.service import RunStore
from core.runs.states import TERMINAL
from core.tools.gate import ToolGate
from core.tools.guards import Guards
from core.tools.providers import build_registry
from core.tools.registry import ToolRegistry
from core.tools.spec import ToolContext, ToolError, ToolSpec
from core.worker.leases import claim
from core.worker.runner import Worker
from tests.core.helpers import count, drive

SAVES = 6
RUNS = 3


def gate_for(tmp_path: Path, **settings: Any) -> ToolGate:
    s = Settings(data_dir=tmp_path, sandbox_bwrap="/nonexistent/bwrap", **settings)
    return ToolGate(build_registry(s), retry_wait_s=0.01)


def note_script(label: str, saves: int = SAVES) -> dict[str, Any]:
    calls = [
        {"type": "tool_call", "tool": "notes_save", "arguments": {"body": f"{label} note {i}"}}
        for i in range(saves)
    ]
    return {"script": [*calls, {"type": "respond", "message": f"saved {saves} notes"}]}


def settle(engine: Any, gate: ToolGate, store: RunStore, runs: list[tuple[str, str]]) -> None:
    """Run a real worker (four slots) until all of ``runs`` (user, run id) are finished."""
    worker = Worker(engine, ScriptedAgent, gate, concurrency=4, poll_s=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            left = [r for u, r in runs if store.get_run("acme", u, r)["status"] not in TERMINAL]
            if not left:
                return
            assert time.monotonic() < deadline, f"{len(left)} runs never finished"
            time.sleep(0.05)
    finally:
        worker.stop()


def event_data(engine: Any, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(EVENTS.c.data).where(EVENTS.c.type == kind).order_by(EVENTS.c.id)
        )
        return [r[0] for r in rows]


def decisions_per_run(engine: Any) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select count(*) from run_events where type = 'DecisionRecorded' "
                "group by run_id order by run_id"
            )
        )
        return [int(r[0]) for r in rows]


def test_a_burst_of_thirty_runs_of_a_tenant_saves_every_note_under_the_default_limits(
    engine, tmp_path
):
    gate = gate_for(tmp_path)
    store = RunStore(engine)
    users = [f"user{i}" for i in range(10)]
    runs = [
        (user, store.create_run("acme", user, f"notes {i}", meta=note_script(f"r{i}"))["run_id"])
        for i, user in enumerate(users * 3)
    ]
    settle(engine, gate, store, runs)
    assert count(engine, "select count(*) from notes where tenant_id = 'acme'") == 30 * SAVES
    assert count(engine, "select count(distinct body) from notes") == 30 * SAVES
    assert {store.get_run("acme", u, r)["result"] for u, r in runs} == {"saved 6 notes"}
    # ordinary use of a tenant with many users is not throttled at all
    assert event_data(engine, "ToolCallDenied") == []
    assert event_data(engine, "ToolCallDeferred") == []


def test_rate_limited_calls_of_one_user_wait_and_every_note_is_saved_once(engine, tmp_path):
    # Ten calls a second per user, and calls already waiting for the next six seconds of
    # them: the runs' calls queue up behind those even on a slow, loaded machine.
    gate = gate_for(tmp_path, tool_user_rate_per_minute=600, tool_user_rate_burst=1)
    for i in range(60):
        gate.judge("acme", "alice", "notes_save", {"body": "x"}, call_id=f"earlier-{i}")
    store = RunStore(engine)
    created = [
        store.create_run("acme", "alice", f"n{i}", meta=note_script(f"r{i}")) for i in range(RUNS)
    ]
    runs = [("alice", r["run_id"]) for r in created]
    settle(engine, gate, store, runs)
    assert count(engine, "select count(*) from notes where user_id = 'alice'") == RUNS * SAVES
    assert count(engine, "select count(distinct body) from notes") == RUNS * SAVES
    assert {store.get_run("acme", "alice", r)["result"] for _, r in runs} == {"saved 6 notes"}
    deferred = event_data(engine, "ToolCallDeferred")
    assert deferred, "the limit never deferred a call"
    assert {d["error_type"] for d in deferred} == {"rate_limited"}
    assert event_data(engine, "ToolCallDenied") == []
    # the deferred decision was proposed again, never asked of the agent again
    assert decisions_per_run(engine) == [SAVES + 1] * RUNS
    assert count(engine, "select count(*) from tool_invocations") == RUNS * SAVES
    for _, run_id in runs:
        rebuilt = store.rebuilt_view("acme", "alice", run_id)
        row = store.get_run("acme", "alice", run_id)
        assert {k: row[k] for k in rebuilt} == rebuilt


def test_a_deferred_run_is_queued_until_its_retry_time_and_no_worker_claims_it_before(
    engine, tmp_path
):
    # One call at once, then one every three seconds.
    gate = gate_for(tmp_path, tool_user_rate_per_minute=20, tool_user_rate_burst=1)
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "two notes", meta=note_script("two", saves=2))
    drive(engine, gate)
    waiting = store.get_run("acme", "alice", run["run_id"])
    assert waiting["status"] == "queued"
    assert count(engine, "select count(*) from notes") == 1
    not_before: datetime = waiting["not_before"]
    assert not_before > utcnow()
    [deferral] = [
        e["data"]
        for e in store.events("acme", "alice", run["run_id"])
        if e["type"] == "ToolCallDeferred"
    ]
    assert datetime.fromisoformat(deferral["retry_at"]) == not_before
    assert deferral["tool"] == "notes_save" and deferral["deferrals"] == 1
    assert claim(engine, "eager", 30) is None  # the retry time is honoured

    settle(engine, gate, store, [("alice", run["run_id"])])
    done = store.get_run("acme", "alice", run["run_id"])
    assert done["status"] == "completed" and done["not_before"] is None
    assert count(engine, "select count(*) from notes") == 2
    assert decisions_per_run(engine) == [3]


@pytest.fixture
def no_deferrals(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BATON_TOOL_MAX_DEFERRALS", "0")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("BATON_TOOL_MAX_DEFERRALS")
    get_settings.cache_clear()


def test_a_final_refusal_reaches_the_agent(engine, tmp_path, no_deferrals):
    gate = gate_for(tmp_path, tool_user_rate_per_minute=20, tool_user_rate_burst=1)
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "two notes", meta=note_script("two", saves=2))
    settle(engine, gate, store, [("alice", run["run_id"])])
    assert count(engine, "select count(*) from notes") == 1
    [denied] = event_data(engine, "ToolCallDenied")
    assert denied["verdict"]["error_type"] == "rate_limited"
    assert event_data(engine, "ToolCallDeferred") == []


def test_a_call_to_a_paused_tool_waits_for_the_breaker_trial(engine):
    calls = {"n": 0}

    async def flaky(args: dict[str, Any], _ctx: ToolContext) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ToolError("upstream_unavailable", "the crm is down", retryable=True)
        return {"ok": args}

    spec = ToolSpec(name="crm_get", description="crm", fn=flaky)
    gate = ToolGate(
        ToolRegistry([spec], guards=Guards(breaker_failures=2, breaker_cooldown_s=3)),
        retry_wait_s=0.01,
    )
    script = [{"type": "tool_call", "tool": "crm_get", "arguments": {"id": i}} for i in range(3)]
    store = RunStore(engine)
    script.append({"type": "respond", "message": "ok"})
    run = store.create_run("acme", "alice", "crm", meta={"script": script})
    settle(engine, gate, store, [("alice", run["run_id"])])
    kinds = [
        e["type"]
        for e in store.events("acme", "alice", run["run_id"])
        if e["type"].startswith("ToolCall") and e["type"] != "ToolCallProposed"
    ]
    # two failures open the breaker; the third call waits for the trial instead of failing
    assert kinds == [
        "ToolCallStarted",
        "ToolCallFailed",
        "ToolCallStarted",
        "ToolCallFailed",
        "ToolCallDeferred",
        "ToolCallStarted",
        "ToolCallSucceeded",
    ]
    assert event_data(engine, "ToolCallDeferred")[0]["error_type"] == "circuit_open"
    assert calls["n"] == 3
