"""Recording a run's spans cheaply on the step's path, and exporting them off it.

OpenTelemetry's SDK spans cost tens of microseconds each to start and end (sampling, attribute
limits and locks, a ReadableSpan copy at the end), several times a step. A run's spans need
none of that on the step's path: ``RecordedSpan`` implements the OpenTelemetry span API (so it
is the current span for ``trace.get_current_span()``) with plain attributes and events, and
``SpanBatcher`` hands finished spans to an exporter on its own thread, many per call. The
OTLP exporter gets SDK ``ReadableSpan``s built on that thread (see ``ReadableExport``).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    Span,
    SpanContext,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import AttributeValue

from core.tracing.attributes import CALL_ID, RUN_ID

log = logging.getLogger(__name__)
SCOPE = "baton.core"
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
SpanEventRecord = tuple[str, int, dict[str, AttributeValue]]


@dataclass(frozen=True, slots=True)
class CallOwner:
    """The call a span belongs to, and whose it is (a call has no row of its own in the core
    to look its owner up from, unlike a run)."""

    call_id: str
    tenant_id: str
    user_id: str


class RecordedSpan(Span):
    """One span of a run or of a call, recorded in plain Python values until it is exported.

    A run's span has its ``run_id`` (a column of the local store, left out of
    ``attributes``; the OTLP export adds it back as ``baton.run_id``). A call's span has
    ``call`` instead, and may link to the runs the call drove."""

    __slots__ = (
        "_sink",
        "attributes",
        "call",
        "context",
        "end_ns",
        "events",
        "links",
        "name",
        "parent",
        "run_id",
        "start_ns",
        "status",
    )

    def __init__(
        self,
        name: str,
        run_id: str | None,
        context: SpanContext,
        parent: SpanContext | None,
        start_ns: int,
        attributes: dict[str, AttributeValue],
        sink: Callable[[RecordedSpan], None],
        call: CallOwner | None = None,
        links: tuple[SpanContext, ...] = (),
    ) -> None:
        self.name = name
        self.run_id = run_id
        self.call = call
        self.links = links
        self.context = context
        self.parent = parent
        self.start_ns = start_ns
        self.end_ns: int | None = None
        self.attributes = attributes
        self.events: list[SpanEventRecord] = []
        self.status = StatusCode.UNSET
        self._sink = sink

    def end(self, end_time: int | None = None) -> None:
        """Finish the span (once) and queue it for export."""
        if self.end_ns is None:
            self.end_ns = max(end_time or time.time_ns(), self.start_ns)
            self._sink(self)

    def get_span_context(self) -> SpanContext:
        """The span's identity within the run's trace."""
        return self.context

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Add attributes; a None value is not recorded (OTLP has no null)."""
        if self.end_ns is None:
            self.attributes.update((k, v) for k, v in attributes.items() if v is not None)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Add one attribute; a None value is not recorded."""
        if self.end_ns is None and value is not None:
            self.attributes[key] = value

    def add_event(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Note a moment inside the span."""
        if self.end_ns is None:
            self.events.append((name, timestamp or time.time_ns(), dict(attributes or {})))

    def add_link(
        self, context: SpanContext, attributes: Mapping[str, AttributeValue] | None = None
    ) -> None:
        """Link the span to another trace's span (a call's turn to the run it drove)."""
        if self.end_ns is None:
            self.links = (*self.links, context)

    def update_name(self, name: str) -> None:
        """Rename the span."""
        self.name = name

    def is_recording(self) -> bool:
        """True until the span ends."""
        return self.end_ns is None

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Mark the span ok or failed."""
        self.status = status.status_code if isinstance(status, Status) else status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, AttributeValue] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Note the exception's type only: its message may carry a person's data."""
        self.add_event(
            "exception",
            {"exception.type": type(exception).__qualname__, **(attributes or {})},
            timestamp,
        )


def start_span(
    name: str,
    run_id: str | None,
    trace_id: int,
    parent: SpanContext | None,
    attributes: dict[str, AttributeValue],
    start_ns: int | None,
    sink: Callable[[RecordedSpan], None],
    *,
    span_id: int | None = None,
    call: CallOwner | None = None,
    links: tuple[SpanContext, ...] = (),
) -> RecordedSpan:
    """A new span of the trace ``trace_id`` under ``parent`` (None: the trace's root, whose
    ``span_id`` is given), started now unless ``start_ns``."""
    context = SpanContext(trace_id, span_id or random.getrandbits(64) or 1, False, _SAMPLED)
    return RecordedSpan(
        name, run_id, context, parent, start_ns or time.time_ns(), attributes, sink, call, links
    )


class SpanSink(Protocol):
    """Where batches of finished spans go (the local store, or OTLP through the SDK)."""

    def export(self, spans: Sequence[RecordedSpan]) -> bool:
        """Store or send the spans; False when they could not be."""

    def shutdown(self) -> None:
        """Release what the sink holds."""


class ReadableExport:
    """Exports recorded spans with an SDK exporter (OTLP), converting them on the export
    thread."""

    def __init__(self, exporter: SpanExporter, resource: Resource) -> None:
        self.exporter = exporter
        self.resource = resource
        self.scope = InstrumentationScope(SCOPE)

    def export(self, spans: Sequence[RecordedSpan]) -> bool:
        """Send the spans as OpenTelemetry ReadableSpans."""
        readable = [self._readable(s) for s in spans]
        return self.exporter.export(readable) == SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Shut the SDK exporter down."""
        self.exporter.shutdown()

    def _readable(self, s: RecordedSpan) -> ReadableSpan:
        own = {CALL_ID: s.call.call_id} if s.call is not None else {RUN_ID: s.run_id or ""}
        return ReadableSpan(
            name=s.name,
            context=s.context,
            parent=s.parent,
            resource=self.resource,
            attributes={**own, **s.attributes},
            events=[Event(n, a, t) for n, t, a in s.events],
            links=tuple(Link(c) for c in s.links),
            status=Status(s.status),
            start_time=s.start_ns,
            end_time=s.end_ns,
            instrumentation_scope=self.scope,
        )


class SpanBatcher:
    """Queues finished spans and exports them on one background thread, up to ``batch``
    per export, at the latest ``delay_s`` after a span ended.

    Queuing is an append to a deque; the thread is only woken when a full batch waits, so a
    step does not pay for a thread switch per span. The queue is bounded: when the exporter
    cannot keep up, the oldest unexported spans are dropped rather than memory growing.
    """

    def __init__(
        self, sink: SpanSink, batch: int, delay_s: float = 1.0, queue_max: int = 20_000
    ) -> None:
        self.sink = sink
        self.batch = batch
        self.delay_s = delay_s
        self._queue: deque[RecordedSpan] = deque(maxlen=queue_max)
        self._stopping = False
        self._start()
        # A forked child has the queue but not the thread: it starts its own, empty.
        after_fork = weakref.WeakMethod(self._start)
        os.register_at_fork(after_in_child=lambda: _call(after_fork))

    def _start(self) -> None:
        self._queue.clear()
        self._wake = threading.Condition()
        self._idle = threading.Condition()
        self._busy = False
        self._dropped = 0
        self._thread = threading.Thread(target=self._loop, name="baton-spans", daemon=True)
        if not self._stopping:
            self._thread.start()

    def on_end(self, span: RecordedSpan) -> None:
        """Queue a finished span (called on the step's path: keep it cheap)."""
        if len(self._queue) == self._queue.maxlen:
            self._dropped += 1
        self._queue.append(span)
        if len(self._queue) >= self.batch:
            with self._wake:
                self._wake.notify()

    def force_flush(self, timeout_ms: int) -> bool:
        """Export every queued span; False if that took longer than ``timeout_ms``."""
        deadline = time.monotonic() + timeout_ms / 1000
        with self._idle:
            while (self._queue or self._busy) and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                with self._wake:
                    self._wake.notify()
                self._idle.wait(min(left, 0.05))
        return not self._queue

    def shutdown(self) -> None:
        """Export what is queued, stop the thread and shut the sink down."""
        self._stopping = True
        with self._wake:
            self._wake.notify()
        self._thread.join()
        self.sink.shutdown()

    def _loop(self) -> None:
        while True:
            with self._wake:
                if not self._stopping and len(self._queue) < self.batch:
                    self._wake.wait(self.delay_s)
            self._drain()
            if self._stopping and not self._queue:
                return

    def _drain(self) -> None:
        with self._idle:
            self._busy = True
        if self._dropped:
            log.warning("dropped %d spans: their export could not keep up", self._dropped)
            self._dropped = 0
        while self._queue:
            spans: list[RecordedSpan] = []
            while self._queue and len(spans) < self.batch:
                spans.append(self._queue.popleft())
            try:
                if not self.sink.export(spans):
                    log.warning("could not export %d spans", len(spans))
            except Exception:
                log.exception("could not export %d spans", len(spans))
        with self._idle:
            self._busy = False
            self._idle.notify_all()


def _call(method: weakref.WeakMethod[Callable[[], None]]) -> None:
    bound = method()
    if bound is not None:
        bound()
