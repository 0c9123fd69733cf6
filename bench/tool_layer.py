"""What the governed tool layer costs per call, and how fast the sandbox and MCP answer.

Measures, in one process on loopback:
- the gate's judgement (schema, scopes, token bucket, breaker, approval policy) of one call;
- a full judge + execute of a no-op tool (timeout wrapper, normalisation, breaker record);
- sandbox_run of ``true`` and of ``python3 -c pass`` under bubblewrap (if installed);
- one call to a tool of a local MCP server over stdio (session kept open by the hub).
The last line is one JSON object of figures.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import Settings  # noqa: E402
from core.tools.builtin.sandbox_tools import sandbox_spec  # noqa: E402
from core.tools.gate import ToolGate  # noqa: E402
from core.tools.guards import Guards  # noqa: E402
from core.tools.providers import build_registry  # noqa: E402
from core.tools.registry import ToolRegistry  # noqa: E402
from core.tools.spec import ToolContext, ToolSpec  # noqa: E402


def ctx() -> ToolContext:
    return ToolContext("bench", "bench", "run_bench", 1, "key", None)  # type: ignore[arg-type]


def p50_p95_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        round(statistics.median(ordered) * 1000, 3),
        round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
    )


async def timed(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


async def main() -> None:
    figures: dict[str, Any] = {}

    async def noop(args: dict[str, Any], _ctx: ToolContext) -> dict[str, Any]:
        return {"ok": True}

    schema = {
        "type": "object",
        "required": ["title", "start"],
        "properties": {"title": {"type": "string"}, "start": {"type": "string"}},
    }
    spec = ToolSpec(name="noop", description="", fn=noop, input_schema=schema)
    unlimited = Guards(
        rate_per_minute=1e9, rate_burst=10**9, user_rate_per_minute=1e9, user_rate_burst=10**9
    )
    gate = ToolGate(ToolRegistry([spec], guards=unlimited))
    args = {"title": "x", "start": "2031-01-01T10:00:00Z"}

    judge = []
    for _ in range(5000):
        t = time.perf_counter()
        gate.judge("bench", "bench", "noop", args)
        judge.append(time.perf_counter() - t)
    figures["judge_p50_ms"], figures["judge_p95_ms"] = p50_p95_ms(judge)

    async def full() -> None:
        verdict = gate.judge("bench", "bench", "noop", args)
        assert verdict.spec is not None
        await gate.execute(verdict.spec, args, ctx())

    full_samples = await timed(full, 3000)
    figures["judge_execute_p50_ms"], figures["judge_execute_p95_ms"] = p50_p95_ms(full_samples)
    figures["gated_calls_per_s"] = round(len(full_samples) / sum(full_samples))

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        if shutil.which("bwrap"):
            sandbox = ToolGate(ToolRegistry(sandbox_spec(settings)))
            run = sandbox.registry.get("sandbox_run")
            for name, argv in (("true", ["true"]), ("python", ["python3", "-c", "pass"])):

                async def once(argv: list[str] = argv) -> None:
                    await sandbox.execute(run, {"argv": argv}, ctx())

                samples = await timed(once, 30)
                figures[f"sandbox_{name}_p50_ms"], _ = p50_p95_ms(samples)

        server = str(ROOT / "tests" / "tools" / "mcp_server.py")
        t = time.perf_counter()
        registry = build_registry(
            Settings(
                data_dir=Path(tmp),
                sandbox_bwrap="/nonexistent",
                mcp_servers={"bench": {"command": sys.executable, "args": [server]}},
            )
        )
        figures["mcp_stdio_connect_ms"] = round((time.perf_counter() - t) * 1000, 1)
        try:
            mcp_gate = ToolGate(registry)
            add = registry.get("bench__add")

            async def mcp_call() -> None:
                await mcp_gate.execute(add, {"a": 1, "b": 2}, ctx())

            samples = await timed(mcp_call, 200)
            figures["mcp_stdio_call_p50_ms"], figures["mcp_stdio_call_p95_ms"] = p50_p95_ms(samples)
        finally:
            registry.close()

    for key, value in figures.items():
        print(f"{key:28s} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
