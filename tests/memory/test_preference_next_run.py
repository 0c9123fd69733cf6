"""A preference told in one call is used in the next call's answer, through the run core: the
worker runs the step, the step records the proposal, the worker's idle hook stores it, and the
next run's context pack carries it (and the checkpoint records that it did). "Forget that"
then deletes exactly that memory."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from core.agent.scripted import ScriptedAgent
from core.memory.controls import forget_last_used, list_memories
from core.memory.pipeline import process_proposals
from core.runs.service import RunStore
from core.runs.states import TERMINAL
from core.store.tables import Checkpoint
from core.worker.runner import Worker
from models.contract import ContextPack
from tests.core.helpers import gate_with

CHECKPOINTS = Checkpoint.__table__  # type: ignore[attr-defined]


def _drain(engine) -> None:
    """The worker's idle hook: run the memory pipeline."""
    process_proposals(engine)


def weather_agent(pack: ContextPack) -> dict[str, Any]:
    """Follows the run's script when it has one; otherwise answers about the weather in the
    units a remembered preference asks for (Fahrenheit when nothing is remembered)."""
    script = (pack.run_state.get("meta") or {}).get("script")
    made = int(pack.run_state.get("decisions", 0))
    if script and made < len(script):
        return script[made]
    celsius = any("celsius" in m["content"].lower() for m in pack.memories)
    return {"type": "respond", "message": "Oslo: 5 °C." if celsius else "Oslo: 41 °F."}


def wait_done(store: RunStore, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.get_run("t1", "alice", run_id)
        if run["status"] in ("completed", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def wait_memories(engine, n: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list_memories(engine, "t1", "alice")
        if len(found) >= n:
            return found
        time.sleep(0.05)
    raise AssertionError("the worker did not store the proposed memory")


def refs_of(engine, run_id: str) -> list[str]:
    with engine.connect() as conn:
        calls = conn.execute(
            select(CHECKPOINTS.c.model_call_json).where(CHECKPOINTS.c.run_id == run_id)
        ).scalars()
        return [r for c in calls if c for r in c.get("refs", [])]


def test_preference_from_one_call_shapes_the_next_and_forget_that_removes_it(engine):
    store = RunStore(engine)
    worker = Worker(
        engine,
        lambda: ScriptedAgent(weather_agent),
        gate_with(),
        concurrency=1,
        poll_s=0.02,
        housekeeping=[lambda: _drain(engine)],
        housekeeping_every_s=0.1,
    )
    worker.start()
    try:
        first = store.create_run(
            "t1",
            "alice",
            "Remember that I want temperatures in Celsius.",
            channel="voice",
            meta={
                "script": [
                    {
                        "type": "propose_memory",
                        "memory_type": "preference",
                        "content": "Wants temperatures in Celsius.",
                        "confidence": 0.9,
                    },
                    {"type": "respond", "message": "Got it, Celsius from now on."},
                ]
            },
        )
        assert wait_done(store, first["run_id"])["status"] == "completed"
        [memory] = wait_memories(engine, 1)
        assert memory["source_run_id"] == first["run_id"]

        second = store.create_run("t1", "alice", "What's the temperature in Oslo?", channel="voice")
        done = wait_done(store, second["run_id"])
        assert done["result"] == "Oslo: 5 °C."
        assert f"memory:{memory['memory_id']}" in refs_of(engine, second["run_id"])

        forgotten = forget_last_used(engine, "t1", "alice", second["run_id"])
        assert forgotten is not None and forgotten["memory_id"] == memory["memory_id"]
        assert list_memories(engine, "t1", "alice") == []

        third = store.create_run("t1", "alice", "What's the temperature in Oslo?", channel="voice")
        assert wait_done(store, third["run_id"])["result"] == "Oslo: 41 °F."
        assert not any(r.startswith("memory:") for r in refs_of(engine, third["run_id"]))
    finally:
        worker.stop()


def test_another_users_preference_never_reaches_the_pack(engine):
    store = RunStore(engine)
    worker = Worker(
        engine,
        lambda: ScriptedAgent(weather_agent),
        gate_with(),
        poll_s=0.02,
        housekeeping=[lambda: _drain(engine)],
        housekeeping_every_s=0.1,
    )
    worker.start()
    try:
        bobs = store.create_run(
            "t1",
            "bob",
            "Remember that I want temperatures in Celsius.",
            meta={
                "script": [
                    {
                        "type": "propose_memory",
                        "memory_type": "preference",
                        "content": "Wants temperatures in Celsius.",
                        "confidence": 0.9,
                    },
                    {"type": "respond", "message": "Noted."},
                ]
            },
        )
        deadline = time.monotonic() + 60
        # The memory may be stored before the run records its answer: wait for both.
        while (
            not list_memories(engine, "t1", "bob")
            or store.get_run("t1", "bob", bobs["run_id"])["status"] not in TERMINAL
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert store.get_run("t1", "bob", bobs["run_id"])["status"] == "completed"
        alices = store.create_run("t1", "alice", "What's the temperature in Oslo?")
        assert wait_done(store, alices["run_id"])["result"] == "Oslo: 41 °F."
        assert not any(r.startswith("memory:") for r in refs_of(engine, alices["run_id"]))
    finally:
        worker.stop()
