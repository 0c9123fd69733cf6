"""A run's stored spans as a tree: each span with its children, earliest first."""

from __future__ import annotations

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
