"""Spans of a call: one trace per call, whose turns link to the traces of the runs they drove.

A call's trace id and root span id derive from the call id (see :mod:`core.tracing.ids`), so
the turns recorded while the call goes on hang from a root recorded when it ends. A call
has no row in the core to find its owner in, so each span carries it (``CallOwner``). The
voice surface knows when a stage began only once it has ended, so every span here is
recorded after the fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext
from opentelemetry.util.types import Attributes

from core.tracing.ids import root_span_context, root_span_id_of, trace_id_of
from core.tracing.recorder import CallOwner, RecordedSpan, start_span
from core.tracing.setup import current_batcher
from core.tracing.spans import UNTRACED, CurrentSpan


def _start(
    name: str,
    call: CallOwner,
    start_ns: int,
    attributes: Attributes,
    links: Sequence[SpanContext],
) -> RecordedSpan | None:
    batcher = current_batcher()
    if batcher is None:
        return None
    trace_id = trace_id_of(call.call_id)
    current = trace.get_current_span().get_span_context()
    parent = current if current.trace_id == trace_id else root_span_context(call.call_id)
    attrs = dict(attributes) if attributes else {}
    return start_span(
        name, None, trace_id, parent, attrs, start_ns, batcher.on_end, call=call, links=tuple(links)
    )


def past_call_span(
    name: str,
    call: CallOwner,
    start_ns: int,
    end_ns: int,
    attributes: Attributes = None,
    links: Sequence[SpanContext] = (),
) -> None:
    """Record a span of the call that already happened, under the current span of the
    call's trace (else under the call's root)."""
    span = _start(name, call, start_ns, attributes, links)
    if span is not None:
        span.end(end_ns)


def past_call_span_scope(
    name: str,
    call: CallOwner,
    start_ns: int,
    end_ns: int,
    attributes: Attributes = None,
    links: Sequence[SpanContext] = (),
) -> AbstractContextManager[Span]:
    """A span of the call that already happened, current inside the ``with`` block so the
    spans recorded there nest under it (the stages of a turn)."""
    span = _start(name, call, start_ns, attributes, links)
    return UNTRACED if span is None else CurrentSpan(span, end_ns)


def record_call(
    name: str, call: CallOwner, start_ns: int, end_ns: int, attributes: Attributes = None
) -> None:
    """Record the call's root span, the parent of everything recorded for the call."""
    batcher = current_batcher()
    if batcher is None:
        return
    span = start_span(
        name,
        None,
        trace_id_of(call.call_id),
        None,
        dict(attributes) if attributes else {},
        start_ns,
        batcher.on_end,
        span_id=root_span_id_of(call.call_id),
        call=call,
    )
    span.end(end_ns)
