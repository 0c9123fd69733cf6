"""Reading a run's or a call's trace for its owner."""

from __future__ import annotations

from sqlalchemy import Engine

from core.errors import NotFound
from core.runs.log import RUNS
from core.store.db import reader
from core.store.scoped import scoped_row
from core.tracing.ids import hex_trace_id
from core.tracing.local import stored_call_spans, stored_spans
from core.tracing.setup import flush_tracing, tracing_mode
from core.tracing.tree import CallTrace, RunTrace, TraceTimeline, build_tree, step_timings

FLUSH_TIMEOUT_MS = 5_000


def run_trace(engine: Engine, tenant_id: str, user_id: str, run_id: str) -> RunTrace:
    """The run's spans as a tree; NotFound unless the run belongs to this tenant and user.

    Spans this process finished but has not yet stored are written first, so a run just
    executed by an in-process worker shows its last step. (Spans sent to a collector are not
    waited for: a slow collector must not hold up the request.)
    """
    with reader(engine).connect() as conn:
        if scoped_row(conn, RUNS, tenant_id, user_id, run_id=run_id) is None:
            raise NotFound(f"no run '{run_id}'")
    mode = tracing_mode()
    if mode == "local":
        flush_tracing(FLUSH_TIMEOUT_MS)
    with reader(engine).connect() as conn:
        rows = stored_spans(conn, tenant_id, user_id, run_id)
    return RunTrace(
        run_id=run_id,
        trace_id=hex_trace_id(run_id),
        exported_to=mode,
        spans=build_tree(rows),
    )


def run_timeline(engine: Engine, tenant_id: str, user_id: str, run_id: str) -> TraceTimeline:
    """The run's trace summarised step by step (durations, model and tool calls, approvals,
    understanding); NotFound unless the run belongs to this tenant and user."""
    trace = run_trace(engine, tenant_id, user_id, run_id)
    return TraceTimeline(
        run_id=run_id,
        trace_id=trace.trace_id,
        exported_to=trace.exported_to,
        steps=step_timings(trace.spans),
    )


def call_trace(engine: Engine, tenant_id: str, user_id: str, call_id: str) -> CallTrace:
    """The call's spans as a tree; NotFound when this tenant and user have no spans of it.

    A call has no record in the core other than its spans, so a call traced to a collector
    (or not traced) is found only there: its trace here is empty.
    """
    mode = tracing_mode()
    if mode == "local":
        flush_tracing(FLUSH_TIMEOUT_MS)
    with reader(engine).connect() as conn:
        rows = stored_call_spans(conn, tenant_id, user_id, call_id)
    if not rows and mode == "local":
        raise NotFound(f"no traced call '{call_id}'")
    return CallTrace(
        call_id=call_id, trace_id=hex_trace_id(call_id), exported_to=mode, spans=build_tree(rows)
    )
