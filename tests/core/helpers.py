"""Shared helpers for core tests: a side-effect tool and a way to drive a run to rest."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Column, Integer, MetaData, String, Table, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.agent.scripted import ScriptedAgent
from core.agent.step import StepRunner
from core.runs.states import TERMINAL
from core.tools.gate import ToolGate
from core.tools.registry import ToolRegistry
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolSpec
from core.worker.leases import claim, release

side_effects_meta = MetaData()
SIDE_EFFECTS = Table(
    "test_side_effects",
    side_effects_meta,
    Column("idempotency_key", String(200), primary_key=True),
    Column("run_id", String(40)),
    Column("step", Integer),
    Column("value", Integer),
)


def ensure_side_effects(engine: Any) -> None:
    """Create the table the test tool writes its effects to."""
    side_effects_meta.create_all(engine)


async def bump(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """A keyed side effect: one row per idempotency key, however often it runs."""
    dialect_insert = pg_insert if ctx.engine.dialect.name == "postgresql" else sqlite_insert
    with ctx.engine.begin() as conn:
        conn.execute(
            dialect_insert(SIDE_EFFECTS)
            .values(
                idempotency_key=ctx.idempotency_key,
                run_id=ctx.run_id,
                step=ctx.step,
                value=args["n"],
            )
            .on_conflict_do_nothing()
        )
    return {"bumped": args["n"]}


def bump_spec(risk: RiskLevel = RiskLevel.LOCAL_WRITE) -> ToolSpec:
    """The declaration of the side-effect tool."""
    return ToolSpec(
        name="counter.bump",
        description="Record one side effect",
        fn=bump,
        input_schema={
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "required": ["n"],
            "additionalProperties": False,
        },
        risk_level=risk,
        idempotency=Idempotency.KEYED,
        # a busy test, not abuse: keep the rate limits out of the way
        rate_per_minute=60_000,
        rate_burst=10_000,
        user_rate_per_minute=60_000,
        user_rate_burst=10_000,
    )


def side_effects(engine: Any, run_id: str) -> list[int]:
    """Values the tool wrote for a run, one per executed call, in the order of the steps."""
    with engine.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                select(SIDE_EFFECTS.c.value)
                .where(SIDE_EFFECTS.c.run_id == run_id)
                .order_by(SIDE_EFFECTS.c.step)
            )
        ]


def gate_with(*specs: ToolSpec) -> ToolGate:
    """A gate over exactly these tools."""
    return ToolGate(ToolRegistry(specs))


def drive(engine: Any, gate: ToolGate, agent: Any = None, max_claims: int = 200) -> int:
    """Claim and step runs in this process until nothing is runnable; returns steps done."""
    runner = StepRunner(engine, agent or ScriptedAgent(), gate)
    steps = 0
    for _ in range(max_claims):
        lease = claim(engine, "test", 30)
        if lease is None:
            return steps
        try:
            while asyncio.run(runner.run_step(lease)):
                steps += 1
            steps += 1
        finally:
            release(engine, lease)
    return steps


def wait_for_status(
    store: Any, tenant: str, user: str, run_id: str, wanted: set[str], timeout: float = 60
) -> dict[str, Any]:
    """Poll the store until the run reaches one of ``wanted`` (or a terminal state)."""
    deadline = time.monotonic() + timeout
    while True:
        run = store.get_run(tenant, user, run_id)
        if run["status"] in wanted or run["status"] in {s.value for s in TERMINAL}:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run stayed {run['status']}")
        time.sleep(0.05)


def count(engine: Any, sql: str, **params: Any) -> int:
    """A scalar count from raw SQL."""
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


BATON = str(Path(sys.executable).parent / "baton")
LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def start_serve(
    env: dict[str, str], log: Path, *args: str, timeout: float = 60
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``baton serve`` on a loopback port the OS picks (BATON_PORT=0) with its output in
    ``log``; returns the process and its port once ``/healthz`` answers."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [BATON, "serve", *args], env={**env, "BATON_PORT": "0"}, stdout=out, stderr=out
        )
    deadline = time.monotonic() + timeout
    port = 0
    while True:
        if not port:
            found = LISTENING.search(log.read_text(errors="replace"))
            port = int(found.group(1)) if found else 0
        try:
            if port and httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(10)
            raise AssertionError(f"baton serve did not start: {log.read_text()[-3000:]}")
        time.sleep(0.1)
