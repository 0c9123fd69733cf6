"""Starting spans of a run: every span names its run and joins the run's trace.

A span started inside another span of the same run nests under it; otherwise it hangs from
the run's root (see :mod:`core.tracing.ids`), whichever process starts it. With tracing off
these helpers cost a check and return a span that records nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span
from opentelemetry.util.types import Attributes

from core.tracing.attributes import RUN_ID
from core.tracing.ids import run_context, run_trace_id
from core.tracing.setup import current_tracer


def _parent(run_id: str) -> Context | None:
    current = trace.get_current_span().get_span_context()
    return None if current.trace_id == run_trace_id(run_id) else run_context(run_id)


@contextmanager
def run_span(name: str, run_id: str, attributes: Attributes = None) -> Iterator[Span]:
    """A span of the run around the block, current inside it; an exception marks it failed."""
    tracer = current_tracer()
    if tracer is None:
        yield trace.INVALID_SPAN
        return
    attrs = {RUN_ID: run_id, **(attributes or {})}
    with tracer.start_as_current_span(name, context=_parent(run_id), attributes=attrs) as span:
        yield span


def past_span(
    name: str, run_id: str, start_ns: int, end_ns: int, attributes: Attributes = None
) -> None:
    """Record a span of the run that already happened (e.g. a model call reported by its
    caller after the fact), under the current span."""
    tracer = current_tracer()
    if tracer is None:
        return
    attrs = {RUN_ID: run_id, **(attributes or {})}
    span = tracer.start_span(name, context=_parent(run_id), attributes=attrs, start_time=start_ns)
    span.end(end_time=max(end_ns, start_ns))


def annotate(attributes: Attributes) -> None:
    """Add attributes to the current span (nothing when there is none)."""
    if attributes:
        trace.get_current_span().set_attributes(attributes)


def span_event(name: str, attributes: Attributes = None) -> None:
    """Note a moment in the current span (a proposal judged, an approval requested)."""
    trace.get_current_span().add_event(name, attributes)
