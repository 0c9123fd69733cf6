"""Durable steps per second: Baton's run core against LangGraph's checkpointers.

Workload (the same for both): runs of 20 steps, each step one decision and one tool call,
with a state of about 2 KB that every step carries forward durably. Baton is measured with
one in-process worker slot and with 4 worker processes; LangGraph with its SqliteSaver and
PostgresSaver (durability="sync") in the same run. The last line is one JSON object.

``--tracing on`` (the product's default) records every step's spans in the local span store,
as `baton serve` does without an OTLP endpoint; the time to write them is inside the figure.
The one-process runs also report CPU milliseconds per step (the whole process's, the span
export thread included): on a shared machine it compares ``--tracing on`` with ``off`` more
steadily than wall time does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = 20
PAD = "x" * 1900  # with the messages the state is ~2 KB
PG_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# ----- Baton ---------------------------------------------------------------------------------


def _gate() -> Any:
    from core.tools.gate import ToolGate
    from core.tools.registry import ToolRegistry
    from core.tools.spec import ToolSpec

    async def echo(args: dict[str, Any], _ctx: Any) -> dict[str, Any]:
        return {"i": args["i"]}

    spec = ToolSpec(
        name="echo",
        description="echo",
        fn=echo,
        rate_per_minute=1e9,
        rate_burst=1_000_000,
        user_rate_per_minute=1e9,
        user_rate_burst=1_000_000,
    )
    return ToolGate(ToolRegistry([spec]))


def _script() -> list[dict[str, Any]]:
    s: list[dict[str, Any]] = [
        {"type": "tool_call", "tool": "echo", "arguments": {"i": i}} for i in range(STEPS)
    ]
    return [*s, {"type": "respond", "message": "done"}]


def _prepare(url: str, runs: int) -> Any:
    from core.runs.service import RunStore
    from core.store.db import make_engine
    from core.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    store = RunStore(engine)
    script = _script()
    for i in range(runs):
        store.create_run("bench", "bench", f"run {i} {PAD}", meta={"script": script})
    return engine


_barrier: Any = None


def _init(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def _work(url: str, slots: int, tracing: bool = False) -> tuple[int, float, float, float]:
    """Work until nothing is runnable; returns (steps, start, end, CPU seconds of the whole
    process, span export thread included) timed after start-up."""
    from core.agent.scripted import ScriptedAgent
    from core.agent.step import StepRunner
    from core.config import Settings
    from core.store.db import make_engine
    from core.tracing import configure_tracing, flush_tracing
    from core.worker.leases import claim, release

    engine = make_engine(url)
    configure_tracing(Settings(tracing=tracing, otel_endpoint=None), engine)
    runner = StepRunner(engine, ScriptedAgent(), _gate())
    loop = asyncio.new_event_loop()
    steps = 0
    if _barrier is not None:
        _barrier.wait()  # every process imported and connected: start the clock together
    started = time.perf_counter()
    cpu = time.process_time()
    while True:
        lease = claim(engine, f"bench-{os.getpid()}", 30)
        if lease is None:
            break
        try:
            while loop.run_until_complete(runner.run_step(lease)):
                steps += 1
        finally:
            release(engine, lease)
    loop.close()
    flush_tracing()  # the spans are written before the clock stops
    return steps, started, time.perf_counter(), time.process_time() - cpu


def _bench_baton(url: str, runs: int, processes: int, tracing: bool) -> tuple[float, float]:
    """(steps per second, CPU milliseconds per step summed over the processes)."""
    _prepare(url, runs)
    if processes == 1:
        results = [_work(url, 1, tracing)]
    else:
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(processes)
        with ctx.Pool(processes, initializer=_init, initargs=(barrier,)) as pool:
            results = pool.starmap(_work, [(url, 1, tracing)] * processes)
    elapsed = max(r[2] for r in results) - min(r[1] for r in results)
    steps = runs * STEPS
    return steps / elapsed, sum(r[3] for r in results) * 1000 / steps


def _pg_schema_url() -> tuple[str, str]:
    from sqlalchemy import text

    from core.store.db import make_engine

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    eng = make_engine(PG_URL)
    with eng.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def _drop_schema(schema: str) -> None:
    from sqlalchemy import text

    from core.store.db import make_engine

    eng = make_engine(PG_URL)
    with eng.begin() as c:
        c.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    eng.dispose()


# ----- LangGraph -----------------------------------------------------------------------------


class LGState(TypedDict):
    goal: str
    messages: list[dict[str, Any]]
    i: int


def _graph(checkpointer: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    def step(state: LGState) -> dict[str, Any]:
        i = state["i"]
        decision = {"type": "tool_call", "tool": "echo", "arguments": {"i": i}}
        result = {"i": i}
        msgs = [
            *state["messages"][-6:],
            {"role": "tool", "content": json.dumps(result)},
            {"role": "assistant", "content": json.dumps(decision)},
        ]
        return {"messages": msgs, "i": i + 1}

    g = StateGraph(LGState)
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: END if s["i"] >= STEPS else "step")
    return g.compile(checkpointer=checkpointer)


def _bench_langgraph(kind: str, runs: int) -> float:
    if kind == "sqlite":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(tempfile.mkdtemp()) / "lg.db"
        conn = sqlite3.connect(str(path), check_same_thread=False)
        saver: Any = SqliteSaver(conn)
        cleanup = conn.close
    else:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row

        _, schema = _pg_schema_url()
        pconn = Connection.connect(
            PG_URL.replace("postgresql+psycopg", "postgresql"),
            autocommit=True,
            prepare_threshold=0,
            row_factory=dict_row,
            options=f"-csearch_path={schema}",
        )
        saver = PostgresSaver(pconn)  # type: ignore[arg-type]

        def cleanup() -> None:
            pconn.close()
            _drop_schema(schema)

    saver.setup()
    graph = _graph(saver)
    t0 = time.perf_counter()
    for r in range(runs):
        cfg = {"configurable": {"thread_id": f"t{r}"}, "recursion_limit": STEPS + 5}
        graph.invoke({"goal": f"run {r} {PAD}", "messages": [], "i": 0}, cfg, durability="sync")
    elapsed = time.perf_counter() - t0
    cleanup()
    return runs * STEPS / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=40, help="runs per measurement")
    ap.add_argument("--json", action="store_true", help="print only the JSON line")
    ap.add_argument(
        "--tracing", choices=["on", "off"], default="on", help="record spans of every step"
    )
    a = ap.parse_args()
    tracing = a.tracing == "on"
    say = (lambda *_: None) if a.json else print
    figures: dict[str, float] = {}

    tmp = Path(tempfile.mkdtemp())
    rate, cpu = _bench_baton(f"sqlite:///{tmp / 'b1.db'}", a.runs, 1, tracing)
    figures["baton_sqlite_steps_per_s"], figures["baton_sqlite_cpu_ms_per_step"] = rate, cpu
    four, _ = _bench_baton(f"sqlite:///{tmp / 'b4.db'}", a.runs * 2, 4, tracing)
    figures["baton_sqlite_4proc_steps_per_s"] = four
    figures["langgraph_sqlite_steps_per_s"] = _bench_langgraph("sqlite", a.runs)

    url, schema = _pg_schema_url()
    try:
        rate, cpu = _bench_baton(url, a.runs, 1, tracing)
        figures["baton_postgres_steps_per_s"] = rate
        figures["baton_postgres_cpu_ms_per_step"] = cpu
    finally:
        _drop_schema(schema)
    url, schema = _pg_schema_url()
    try:
        figures["baton_postgres_4proc_steps_per_s"] = _bench_baton(url, a.runs * 2, 4, tracing)[0]
    finally:
        _drop_schema(schema)
    figures["langgraph_postgres_steps_per_s"] = _bench_langgraph("postgres", a.runs)

    for engine in ("sqlite", "postgres"):
        figures[f"ratio_vs_langgraph_{engine}"] = (
            figures[f"baton_{engine}_steps_per_s"] / figures[f"langgraph_{engine}_steps_per_s"]
        )
    for k, v in figures.items():
        say(f"{k:<40} {v:10.1f}")
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
