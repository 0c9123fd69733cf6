"""How often the configured model makes the right decision for spoken-style requests.

Runs the 48 requests of bench/decision_cases.py (calendar, email, notes, reminders,
questions, chit-chat, missing details, lasting facts) through the real GatewayAgent, once
per variant of the decoding set-up, against the configured model (BATON_MODEL/BATON_MODELS;
by default the embedded SmolLM2-135M on llama.cpp). For each variant it prints the share
of correct decisions (type, tool and key argument words) and of schema-valid model
outputs, then one JSON line with all figures.

    .venv/bin/python bench/agent_decisions.py [--variants a,b] [--every N] [--attempts N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.decision_cases import CASES, TODAY, TOOLS, is_correct  # noqa: E402
from core.agent.factory import action_classifier, resolved_gateway_config  # noqa: E402
from core.config import get_settings  # noqa: E402
from models.agent import GatewayAgent  # noqa: E402
from models.config import GatewayConfig, ModelSpec  # noqa: E402
from models.contract import (  # noqa: E402
    AgentError,
    ContextPack,
    ModelCallRecord,
    decision_json_schema,
)
from models.decision_schema import parse_decision  # noqa: E402
from models.gateway import Gateway, StructuredRequest  # noqa: E402
from models.prompt import build_messages  # noqa: E402

SYSTEM = (
    "You are Baton, a voice-first assistant. Decide the single next action. Use a tool only "
    f"when it is needed; ask one short question when information is missing. Today is {TODAY}."
)

# name -> (decoding style or "contract", structured mode, few-shot, embedding classifier)
VARIANTS: dict[str, tuple[str, str, bool, bool]] = {
    "unconstrained": ("step", "none", False, False),
    "contract_schema": ("contract", "json_schema", False, False),
    "step_schema": ("step", "json_schema", False, False),
    "step_schema_few_shot": ("step", "json_schema", True, False),
    "action_first_few_shot": ("action_first", "json_schema", True, False),
    "two_stage_few_shot": ("two_stage", "json_schema", True, False),
    "classifier_first": ("two_stage", "json_schema", True, True),
    "classifier_first_may_ask": ("two_stage", "json_schema", True, True),
    "classifier_first_repeat_penalty": ("two_stage", "json_schema", True, True),
}


@dataclass
class Score:
    correct: int = 0
    calls: int = 0
    valid_calls: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)


def _pack(said: str) -> ContextPack:
    return ContextPack(
        tenant_id="bench",
        user_id="bench",
        run_id="bench",
        step=1,
        system=SYSTEM,
        goal=said,
        tools=TOOLS,
        response_profile={"channel": "voice"},
    )


async def _contract_decide(gateway: Gateway, pack: ContextPack) -> tuple[Any, list[Any]]:
    """The contract's generic schema (any tool name, any arguments) as the decoder's schema."""

    def request(spec: ModelSpec) -> StructuredRequest[Any]:
        return StructuredRequest(
            build_messages(pack, few_shot=spec.few_shot),
            decision_json_schema(),
            lambda text: parse_decision(text, pack.task_type, pack.tools),
        )

    return await gateway.structured(task_type=pack.task_type, request_for=request)


async def run_variant(base: GatewayConfig, name: str, every: int, attempts: int) -> Score:
    style, structured, few_shot, classify = VARIANTS[name]
    first = base.spec(base.route_for("decision")[0])
    update: dict[str, Any] = {"structured": structured, "few_shot": few_shot}
    if name.endswith("repeat_penalty"):
        # llama.cpp's repetition penalty: shorter arguments, but less faithful ones.
        update["extra"] = {"extra_body": {"repeat_penalty": 1.15}}
    spec = first.model_copy(update=update)
    config = base.model_copy(update={"models": [spec], "routes": {}, "max_attempts": attempts})
    gateway = Gateway(config)
    classifier = action_classifier() if classify else None
    agent = GatewayAgent(
        gateway,
        style=None if style == "contract" else style,  # type: ignore[arg-type]
        classifier=classifier,
        may_ask=name.endswith("may_ask"),
    )
    score = Score()
    for said, expected in CASES[::every]:
        pack = _pack(said)
        started = time.perf_counter()
        calls: list[ModelCallRecord]
        try:
            if style == "contract":
                decision, calls = await _contract_decide(gateway, pack)
            else:
                result = await agent.decide(pack)
                decision, calls = result.decision, result.calls
            got = decision.model_dump()
        except AgentError as exc:
            got, calls = {"type": "failed", "reason": str(exc)[:80]}, exc.calls
        score.latencies_ms.append((time.perf_counter() - started) * 1000.0)
        score.calls += len(calls)
        score.valid_calls += sum(1 for c in calls if c.status == "ok")
        if is_correct(got, expected):
            score.correct += 1
        else:
            shown = {k: v for k, v in got.items() if k in ("type", "tool", "arguments", "reason")}
            score.misses.append(f"{said!r}: {json.dumps(shown)[:110]}")
    return score


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--every", type=int, default=1, help="Use every Nth case")
    parser.add_argument("--attempts", type=int, default=3, help="Model answers per step")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    base = resolved_gateway_config(get_settings())
    model = base.spec(base.route_for("decision")[0])
    n = len(CASES[:: args.every])
    print(f"model: {model.model} ({model.name}); {n} requests; up to {args.attempts} answers each")
    figures: dict[str, Any] = {"model": model.model, "cases": n, "attempts": args.attempts}
    for name in args.variants.split(","):
        started = time.perf_counter()
        score = await run_variant(base, name, args.every, args.attempts)
        correct = 100.0 * score.correct / n
        valid = 100.0 * score.valid_calls / max(score.calls, 1)
        p50 = statistics.median(score.latencies_ms)
        print(
            f"{name:24s} correct {correct:5.1f}%  schema-valid outputs {valid:5.1f}%  "
            f"calls {score.calls:3d}  p50 {p50:7.0f} ms  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        if args.show_misses:
            for miss in score.misses:
                print("    miss", miss)
        figures[f"{name}_correct_pct"] = round(correct, 1)
        figures[f"{name}_valid_pct"] = round(valid, 1)
        figures[f"{name}_p50_ms"] = round(p50, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
