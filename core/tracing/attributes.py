"""Span attributes of Baton's work: names, and what each kind of span records.

Only identifiers, counts, timings and outcomes go into attributes: never tool arguments,
message text, memory content or secrets, since spans may leave the process (OTLP).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opentelemetry.util.types import AttributeValue

from models.contract import ModelCallRecord, UnderstandingRecord

if TYPE_CHECKING:
    from core.tools.gate import Verdict
    from core.tools.spec import ToolResult, ToolSpec

RUN_ID = "baton.run_id"
CALL_ID = "baton.call_id"
STEP = "baton.step"


@lru_cache(maxsize=64)
def prompt_version(system: str) -> str:
    """A short fingerprint of the fixed prompt text: changes whenever the instructions do."""
    return hashlib.sha256(system.encode()).hexdigest()[:12]


def model_call(call: ModelCallRecord, prompt: str) -> dict[str, AttributeValue]:
    """One model call: which model, which prompt, tokens, latency, cost and attempts."""
    return {
        "gen_ai.request.model": call.model,
        "gen_ai.usage.input_tokens": call.input_tokens,
        "gen_ai.usage.output_tokens": call.output_tokens,
        "baton.model.name": call.model_name or call.model,
        "baton.model.prompt_version": prompt,
        "baton.model.latency_ms": call.latency_ms,
        "baton.model.cost_usd": call.cost_usd,
        "baton.model.attempts": call.attempts,
        "baton.model.status": call.status,
    }


def understanding(record: UnderstandingRecord) -> dict[str, AttributeValue]:
    """How the turn was understood: the deciding stage, the intent and its confidence."""
    attrs: dict[str, AttributeValue] = {"baton.understanding.stage": record.stage}
    if record.intent is not None:
        attrs["baton.understanding.intent"] = record.intent
    if record.confidence is not None:
        attrs["baton.understanding.confidence"] = record.confidence
    return attrs


def tool_verdict(tool: str, verdict: Verdict) -> dict[str, AttributeValue]:
    """The gate's judgement of a proposed call: allow, approve (a human decides) or deny."""
    attrs: dict[str, AttributeValue] = {
        "baton.tool.name": tool,
        "baton.tool.verdict": verdict.outcome,
    }
    if verdict.spec is not None:
        attrs["baton.tool.risk_level"] = int(verdict.spec.risk_level)
    if verdict.error_type:
        attrs["baton.tool.error_type"] = verdict.error_type
    return attrs


def tool_call(spec: ToolSpec, invocation: dict[str, Any]) -> dict[str, AttributeValue]:
    """An executed call: the tool, its risk, whether a person approved it, and its key."""
    return {
        "baton.tool.name": spec.name,
        "baton.tool.risk_level": int(spec.risk_level),
        "baton.tool.approval": "approved" if invocation.get("approval_id") else "not_required",
        "baton.tool.idempotency_key": str(invocation["idempotency_key"]),
        # Above 1 when a worker stopped mid-call and the call was executed again.
        "baton.tool.invocation_attempt": int(invocation.get("attempts") or 1),
    }


def tool_outcome(result: ToolResult) -> dict[str, AttributeValue]:
    """How the call ended (the result's status and error type, never its data)."""
    attrs: dict[str, AttributeValue] = {
        "baton.tool.outcome": result.status,
        "baton.tool.attempts": result.attempts,
    }
    if result.error_type:
        attrs["baton.tool.error_type"] = result.error_type
    return attrs
