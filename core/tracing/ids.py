"""A run's trace identity, derived from its id so every process and step agrees on it.

Nothing is stored: any worker that steps a run (and any surface that wants to point at it, such
as a voice call linking its spans to the run) computes the same trace id and the same id of the
run's root span from ``run_id`` alone.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanContext, TraceFlags


@lru_cache(maxsize=4096)
def _digest(run_id: str) -> bytes:
    return hashlib.sha256(run_id.encode()).digest()


@lru_cache(maxsize=4096)
def run_trace_id(run_id: str) -> int:
    """The run's trace id: the first 16 bytes of sha256(run_id), as OpenTelemetry's integer."""
    return int.from_bytes(_digest(run_id)[:16], "big") or 1


def run_root_span_id(run_id: str) -> int:
    """The id of the run's root span, the parent every step span hangs from."""
    return int.from_bytes(_digest(run_id)[16:24], "big") or 1


@lru_cache(maxsize=4096)
def run_span_context(run_id: str) -> SpanContext:
    """The run's root span context: what a span link (e.g. from a voice call) points at."""
    return SpanContext(
        trace_id=run_trace_id(run_id),
        span_id=run_root_span_id(run_id),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def run_context(run_id: str) -> Context:
    """A context whose current span is the run's root: spans started in it join the run."""
    return trace.set_span_in_context(trace.NonRecordingSpan(run_span_context(run_id)))


@lru_cache(maxsize=4096)
def hex_trace_id(run_id: str) -> str:
    """The run's trace id as the 32 hex digits trace backends show."""
    return trace.format_trace_id(run_trace_id(run_id))
