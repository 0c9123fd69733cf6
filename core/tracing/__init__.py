"""OpenTelemetry traces of runs and calls: one trace per run, whichever processes step it,
and one per call (:mod:`core.tracing.calls`).

``trace_id_of(run_id)`` and ``root_span_context(run_id)`` let another surface (a voice call)
link its own spans to a run's trace.
"""

from core.tracing.ids import hex_trace_id, root_span_context, run_context, trace_id_of
from core.tracing.setup import configure_tracing, flush_tracing, shutdown_tracing
from core.tracing.spans import annotate, past_span, past_span_scope, run_span, span_event

__all__ = [
    "annotate",
    "configure_tracing",
    "flush_tracing",
    "hex_trace_id",
    "past_span",
    "past_span_scope",
    "root_span_context",
    "run_context",
    "run_span",
    "shutdown_tracing",
    "span_event",
    "trace_id_of",
]
