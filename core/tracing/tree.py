"""A run's stored spans as a tree: each span with its children, earliest first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field


class SpanEvent(BaseModel):
    """A moment inside a span (a proposed tool call judged, an approval requested)."""

    name: str
    time_ns: int
    attributes: dict[str, Any]


class SpanNode(BaseModel):
    """One span and the spans started inside it."""

    span_id: str
    parent_span_id: str | None
    name: str
    status: str
    start_ns: int
    end_ns: int
    duration_ms: float
    attributes: dict[str, Any]
    events: list[SpanEvent] = Field(default_factory=list)
    children: list[SpanNode] = Field(default_factory=list)


class RunTrace(BaseModel):
    """The trace of one run. ``spans`` are its top-level spans (the steps and the work done
    for the run outside a step), each with its children; ``exported_to`` says where this
    server sends spans ("otlp": to the collector, so none are kept here)."""

    run_id: str
    trace_id: str
    exported_to: Literal["local", "otlp", "off"]
    spans: list[SpanNode]


class CallTrace(BaseModel):
    """The trace of one call: its root span (the whole call), with the greeting, each turn
    and its stages, and each barge-in under it. A turn names the run it drove
    (``baton.run_id``), whose own trace shows the steps."""

    call_id: str
    trace_id: str
    exported_to: Literal["local", "otlp", "off"]
    spans: list[SpanNode]


def build_tree(rows: list[dict[str, Any]]) -> list[SpanNode]:
    """Nest ``rows`` (ordered by start time) under their parents; a span whose parent is not
    stored (the run's root, which no process records) is top-level."""
    nodes = {
        r["span_id"]: SpanNode(
            span_id=r["span_id"],
            parent_span_id=r["parent_span_id"],
            name=r["name"],
            status=r["status"],
            start_ns=r["start_ns"],
            end_ns=r["end_ns"],
            duration_ms=round((r["end_ns"] - r["start_ns"]) / 1_000_000, 3),
            attributes=r["attributes"] or {},
            events=[SpanEvent(**e) for e in r["events"] or []],
        )
        for r in rows
    }
    roots: list[SpanNode] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_span_id) if node.parent_span_id else None
        (parent.children if parent is not None else roots).append(node)
    return roots


# ----- a run's steps as a person reads them --------------------------------------------------


class ModelCallTiming(BaseModel):
    """One model call inside a step: which model, its tokens, how long it took, its cost."""

    model: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float
    cost_usd: float | None
    status: str | None


class ToolCallTiming(BaseModel):
    """One executed tool call: how long it ran, how it ended, whether a person approved it."""

    tool: str
    latency_ms: float
    outcome: str | None
    approval: str | None
    error_type: str | None


class ToolProposal(BaseModel):
    """A tool call the agent proposed and the gate's verdict (allow, approve or deny)."""

    tool: str
    verdict: str


class UnderstandingTiming(BaseModel):
    """How a turn was understood: the deciding stage, the intent and its confidence."""

    stage: str
    intent: str | None
    confidence: float | None


class StepTiming(BaseModel):
    """One top-level span of a run (a step, or work for the run outside one, such as a memory
    write) with what happened inside it. ``step`` is the run's step number when known."""

    name: str
    step: int | None
    status: str
    start_ns: int
    duration_ms: float
    understanding: UnderstandingTiming | None = None
    model_calls: list[ModelCallTiming] = Field(default_factory=list)
    tool_calls: list[ToolCallTiming] = Field(default_factory=list)
    proposals: list[ToolProposal] = Field(default_factory=list)
    approvals_requested: int = 0
    cost_usd: float = 0.0


def _walk(nodes: list[SpanNode]) -> Iterator[SpanNode]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def step_timings(spans: list[SpanNode]) -> list[StepTiming]:
    """Summarise each top-level span of a trace (as ``build_tree`` returns them): its
    duration, and the understanding, model calls, tool calls and approvals inside it."""
    steps: list[StepTiming] = []
    for top in spans:
        item = StepTiming(
            name=top.name,
            step=_int(top.attributes.get("baton.step")),
            status=top.status,
            start_ns=top.start_ns,
            duration_ms=top.duration_ms,
        )
        for node in _walk([top]):
            a = node.attributes
            if node.name == "understanding" and "baton.understanding.stage" in a:
                item.understanding = UnderstandingTiming(
                    stage=str(a["baton.understanding.stage"]),
                    intent=_str(a.get("baton.understanding.intent")),
                    confidence=_float(a.get("baton.understanding.confidence")),
                )
            elif node.name == "model.call":
                cost = _float(a.get("baton.model.cost_usd"))
                item.model_calls.append(
                    ModelCallTiming(
                        model=str(a.get("gen_ai.request.model") or a.get("baton.model.name")),
                        input_tokens=_int(a.get("gen_ai.usage.input_tokens")),
                        output_tokens=_int(a.get("gen_ai.usage.output_tokens")),
                        latency_ms=_float(a.get("baton.model.latency_ms")) or node.duration_ms,
                        cost_usd=cost,
                        status=_str(a.get("baton.model.status")),
                    )
                )
                item.cost_usd += cost or 0.0
            elif node.name == "tool.call":
                item.tool_calls.append(
                    ToolCallTiming(
                        tool=str(a.get("baton.tool.name")),
                        latency_ms=node.duration_ms,
                        outcome=_str(a.get("baton.tool.outcome")),
                        approval=_str(a.get("baton.tool.approval")),
                        error_type=_str(a.get("baton.tool.error_type")),
                    )
                )
            for event in node.events:
                if event.name == "tool.proposed":
                    item.proposals.append(
                        ToolProposal(
                            tool=str(event.attributes.get("baton.tool.name")),
                            verdict=str(event.attributes.get("baton.tool.verdict")),
                        )
                    )
                elif event.name == "approval.requested":
                    item.approvals_requested += 1
        steps.append(item)
    return steps


class TraceTimeline(BaseModel):
    """A run's trace step by step; empty ``steps`` when ``exported_to`` is "otlp" (the spans
    are at the collector) or "off"."""

    run_id: str
    trace_id: str
    exported_to: Literal["local", "otlp", "off"]
    steps: list[StepTiming]
