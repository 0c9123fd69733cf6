"""A trace's identity, derived from the id of what it traces (a run or a call), so every
process agrees on it.

Nothing is stored: any worker that steps a run (and any surface that wants to point at it, such
as a voice call linking its turns to the run) computes the same trace id and the same id of the
trace's root span from the run's or the call's id alone. Run and call ids never coincide
(their prefixes differ), so neither do their traces.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanContext, TraceFlags


@lru_cache(maxsize=4096)
def _digest(subject_id: str) -> bytes:
    return hashlib.sha256(subject_id.encode()).digest()


@lru_cache(maxsize=4096)
def trace_id_of(subject_id: str) -> int:
    """The trace id of a run or a call: the first 16 bytes of sha256(id), as OpenTelemetry's
    integer."""
    return int.from_bytes(_digest(subject_id)[:16], "big") or 1


def root_span_id_of(subject_id: str) -> int:
    """The id of the trace's root span, the parent every top-level span hangs from."""
    return int.from_bytes(_digest(subject_id)[16:24], "big") or 1


@lru_cache(maxsize=4096)
def root_span_context(subject_id: str) -> SpanContext:
    """The root span context of a run's or a call's trace: what a span link points at."""
    return SpanContext(
        trace_id=trace_id_of(subject_id),
        span_id=root_span_id_of(subject_id),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def run_context(run_id: str) -> Context:
    """A context whose current span is the run's root: spans started in it join the run."""
    return trace.set_span_in_context(trace.NonRecordingSpan(root_span_context(run_id)))


@lru_cache(maxsize=4096)
def hex_trace_id(subject_id: str) -> str:
    """The trace id of a run or a call as the 32 hex digits trace backends show."""
    return trace.format_trace_id(trace_id_of(subject_id))
