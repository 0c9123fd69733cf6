"""Starting spans of a run: every span names its run and joins the run's trace.

A span started inside another span of the same run nests under it; otherwise it hangs from
the run's root (see :mod:`core.tracing.ids`), whichever process starts it. With tracing off
these helpers cost a check and return a span that records nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from types import TracebackType

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanContext, StatusCode
from opentelemetry.util.types import Attributes, AttributeValue

from core.tracing.attributes import RUN_ID
from core.tracing.ids import root_span_context, trace_id_of
from core.tracing.recorder import RecordedSpan, start_span
from core.tracing.setup import current_batcher


def _start(
    name: str, run_id: str, attributes: Attributes, start_ns: int | None = None
) -> RecordedSpan | None:
    batcher = current_batcher()
    if batcher is None:
        return None
    trace_id = trace_id_of(run_id)
    current = trace.get_current_span().get_span_context()
    parent: SpanContext = current if current.trace_id == trace_id else root_span_context(run_id)
    # The run id is the span's own field (its baton.run_id attribute when exported).
    attrs: dict[str, AttributeValue] = dict(attributes) if attributes else {}
    attrs.pop(RUN_ID, None)
    return start_span(name, run_id, trace_id, parent, attrs, start_ns, batcher.on_end)


class CurrentSpan(AbstractContextManager[Span]):
    """The span current inside a ``with`` block (a class: cheaper than a generator on a
    path taken several times a step)."""

    __slots__ = ("_end_ns", "_span", "_token")

    def __init__(self, span: RecordedSpan, end_ns: int | None = None) -> None:
        self._span = span
        self._end_ns = end_ns

    def __enter__(self) -> Span:
        self._token = context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        context.detach(self._token)
        if exc is not None:
            self._span.record_exception(exc)
            self._span.set_status(StatusCode.ERROR)
        self._span.end(self._end_ns)


UNTRACED = nullcontext(trace.INVALID_SPAN)


def run_span(name: str, run_id: str, attributes: Attributes = None) -> AbstractContextManager[Span]:
    """A span of the run around the ``with`` block, current inside it; an exception marks it
    failed."""
    span = _start(name, run_id, attributes)
    return UNTRACED if span is None else CurrentSpan(span)


def past_span(
    name: str, run_id: str, start_ns: int, end_ns: int, attributes: Attributes = None
) -> None:
    """Record a span of the run that already happened (e.g. a model call reported by its
    caller after the fact), under the current span."""
    span = _start(name, run_id, attributes, start_ns)
    if span is not None:
        span.end(end_ns)


def past_span_scope(
    name: str, run_id: str, start_ns: int, end_ns: int, attributes: Attributes = None
) -> AbstractContextManager[Span]:
    """A span of the run that already happened, current inside the ``with`` block so the
    past spans recorded there nest under it (e.g. the stages of a voice turn)."""
    span = _start(name, run_id, attributes, start_ns)
    return UNTRACED if span is None else CurrentSpan(span, end_ns)


def annotate(attributes: Attributes) -> None:
    """Add attributes to the current span (nothing when there is none)."""
    if attributes:
        trace.get_current_span().set_attributes(attributes)


def span_event(name: str, attributes: Attributes = None) -> None:
    """Note a moment in the current span (a proposal judged, an approval requested)."""
    trace.get_current_span().add_event(name, attributes)
