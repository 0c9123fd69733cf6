"""Spans of one agent decision, from what the agent reports back to the step.

models/ does not know about tracing (it must not import the core), so the step, its caller,
turns the reported model calls and understanding record into spans after the decision.
"""

from __future__ import annotations

from core.tracing import attributes
from core.tracing.spans import past_span
from models.contract import ModelCallRecord, UnderstandingRecord


def record_decision(
    run_id: str,
    system: str,
    started_ns: int,
    ended_ns: int,
    calls: list[ModelCallRecord],
    understood: UnderstandingRecord | None,
) -> None:
    """Add the decision's understanding span and one span per model call under the current
    span. Calls are laid end to end, the last ending when the decision returned (the agent
    reports how long each took, not when it started)."""
    if understood is not None:
        past_span(
            "understanding", run_id, started_ns, ended_ns, attributes.understanding(understood)
        )
    prompt = attributes.prompt_version(system)
    end = ended_ns
    for call in reversed(calls):
        start = max(started_ns, end - int(call.latency_ms * 1_000_000))
        past_span("model.call", run_id, start, end, attributes.model_call(call, prompt))
        end = start
