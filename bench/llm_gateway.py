"""Overhead of the model gateway over a bare litellm call, and the embedded model's speed.

1. A local OpenAI-compatible server answers instantly; the same request is sent N times as a
   bare ``litellm.acompletion`` and through ``Gateway.structured`` (routing, breaker, budget
   estimate, the model-loop hop, validation, cost record), priced and unpriced. The p50
   difference is the gateway's overhead (target < 5 ms).
2. The embedded llama.cpp server (SmolLM2-135M): start-up time, first-token latency and
   tokens/s of a streamed answer through litellm, per thread count.

    .venv/bin/python bench/llm_gateway.py [--calls 200] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.config import EmbeddedLLMConfig, GatewayConfig, ModelSpec
from models.contract import RespondDecision
from models.decision_schema import parse_decision
from models.embedded_server import EmbeddedLLM
from models.gateway import Gateway, StructuredRequest
from models.llm_client import litellm
from models.model_loop import on_model_loop
from tests.models.openai_server import OpenAIStub, Reply

MESSAGES = [
    {"role": "system", "content": "You are Baton. Reply with one JSON decision."},
    {"role": "user", "content": "what is the capital of France"},
]
ANSWER = '{"type": "respond", "message": "Paris."}'
SCHEMA = RespondDecision.model_json_schema()


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000.0, 3)


async def _bare(spec: ModelSpec) -> None:
    assert spec.api_key is not None
    resp = await litellm.acompletion(
        model=spec.model,
        messages=MESSAGES,
        api_base=spec.api_base,
        api_key=spec.api_key.get_secret_value(),
        max_tokens=spec.max_output_tokens,
        temperature=0.0,
        response_format={"type": "json_schema", "json_schema": {"name": "d", "schema": SCHEMA}},
        num_retries=0,
        max_retries=0,
    )
    parse_decision(resp.choices[0].message.content, "decision", [])


async def overhead(calls: int) -> dict[str, float]:
    """Runs on the model loop, where the gateway makes its litellm calls, so that the bare
    call and the gateway share litellm's loop-bound state; the hop a caller on another loop
    pays is measured apart."""
    stub = OpenAIStub().start()
    stub.model("m", Reply(content=ANSWER))
    figures: dict[str, float] = {}
    try:
        for label, prices in (("priced", {}), ("unpriced", {"input_cost_per_token": 0.0})):
            spec = ModelSpec(
                name="m",
                model="openai/gpt-4o-mini",
                api_base=stub.api_base("m"),
                api_key="sk-bench",  # type: ignore[arg-type]
                **prices,  # type: ignore[arg-type]
            )
            gateway = Gateway(GatewayConfig(models=[spec]))
            request: StructuredRequest[Any] = StructuredRequest(
                MESSAGES, SCHEMA, lambda t: parse_decision(t, "decision", [])
            )

            def ask(_spec: ModelSpec, request: StructuredRequest[Any] = request) -> Any:
                return request

            for _ in range(20):  # warm the client pools and litellm's caches
                await _bare(spec)
                await gateway.structured(task_type="decision", request_for=ask)
            bare: list[float] = []
            through: list[float] = []
            for _ in range(calls):
                t0 = time.perf_counter()
                await _bare(spec)
                t1 = time.perf_counter()
                await gateway.structured(task_type="decision", request_for=ask)
                t2 = time.perf_counter()
                bare.append(t1 - t0)
                through.append(t2 - t1)
            figures[f"bare_litellm_{label}_p50_ms"] = _ms(bare)
            figures[f"gateway_{label}_p50_ms"] = _ms(through)
            diffs = sorted(b - a for a, b in zip(bare, through, strict=True))
            figures[f"gateway_overhead_{label}_p50_ms"] = round(
                statistics.median(diffs) * 1000.0, 3
            )
    finally:
        stub.stop()
    return figures


async def hop_cost(calls: int) -> float:
    """Round trip of handing a call to the model loop from another event loop."""

    async def nothing() -> None:
        return None

    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await on_model_loop(nothing())
        samples.append(time.perf_counter() - t0)
    return _ms(samples)


async def embedded_speed(threads: int, runs: int) -> dict[str, float]:
    started = time.perf_counter()
    llm = EmbeddedLLM(EmbeddedLLMConfig(threads=threads))
    llm.start()
    startup = time.perf_counter() - started
    gateway = Gateway(GatewayConfig(models=[llm.spec()]))
    prompt = [{"role": "user", "content": "Tell me a short story about a lighthouse keeper."}]
    first_tokens: list[float] = []
    rates: list[float] = []
    try:
        for i in range(runs + 1):
            records: list[Any] = []
            t0 = time.perf_counter()
            first = None
            messages = [{"role": "user", "content": prompt[0]["content"] + " " * i}]
            async for _piece in gateway.stream_text(
                task_type="voice_summary",
                messages_for=lambda _s, m=messages: m,  # type: ignore[misc]
                records=records,
                max_tokens=128,
            ):
                if first is None:
                    first = time.perf_counter() - t0
            total = time.perf_counter() - t0
            if i == 0 or first is None:
                continue  # the first run warms the server
            first_tokens.append(first)
            out = records[-1].output_tokens
            rates.append((out - 1) / max(total - first, 1e-6))
    finally:
        llm.stop()
    return {
        f"embedded_t{threads}_startup_ms": round(startup * 1000.0, 1),
        f"embedded_t{threads}_first_token_p50_ms": _ms(first_tokens),
        f"embedded_t{threads}_tokens_per_s": round(statistics.median(rates), 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", default="1,2", help="Embedded server thread counts")
    parser.add_argument("--runs", type=int, default=5, help="Streamed answers per thread count")
    args = parser.parse_args()

    figures = await on_model_loop(overhead(args.calls))
    figures["model_loop_hop_p50_ms"] = await hop_cost(args.calls)
    for key, value in figures.items():
        print(f"{key:40s} {value:10.3f}")
    for threads in [int(t) for t in args.threads.split(",")]:
        speed = await embedded_speed(threads, args.runs)
        for key, value in speed.items():
            print(f"{key:40s} {value:10.1f}")
        figures.update(speed)
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
