"""OpenTelemetry traces of runs: one trace per run, whichever processes step it.

``run_trace_id(run_id)`` and ``run_span_context(run_id)`` let another surface (a voice call)
link its own spans to a run's trace.
"""

from core.tracing.ids import hex_trace_id, run_context, run_span_context, run_trace_id
from core.tracing.setup import configure_tracing, flush_tracing, shutdown_tracing
from core.tracing.spans import annotate, past_span, past_span_scope, run_span, span_event

__all__ = [
    "annotate",
    "configure_tracing",
    "flush_tracing",
    "hex_trace_id",
    "past_span",
    "past_span_scope",
    "run_context",
    "run_span",
    "run_span_context",
    "run_trace_id",
    "shutdown_tracing",
    "span_event",
]
