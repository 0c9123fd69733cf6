"""The local span store: an exporter that writes finished spans to the ``spans`` table, and
the scoped read of one run's spans.

Used when no OTLP endpoint is configured, so the embedded default still shows traces. The
exporter runs on the batch processor's thread: a step never waits for a span to be written.
The owner of each span comes from the ``runs`` table (spans carry only the run id), and the
table is kept to a bound by deleting the oldest rows after each batch.

On SQLite the export shares the single writer with the steps, so everything but the insert
itself (finding owners, building rows) happens before the write transaction opens.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode, format_span_id, format_trace_id
from opentelemetry.util.types import Attributes
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.runs.log import RUNS
from core.store.db import reader
from core.tracing.attributes import RUN_ID
from core.tracing.tables import SPANS

log = logging.getLogger(__name__)
_INSERT = {
    "postgresql": pg_insert(SPANS).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(SPANS).on_conflict_do_nothing(),
}
_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}
_OWNERS_CACHED = 10_000
Owner = tuple[str, str]


class LocalSpanExporter(SpanExporter):
    """Writes each batch of spans in one transaction and keeps at most ``keep`` rows."""

    def __init__(self, engine: Engine, keep: int) -> None:
        self.engine = engine
        self.keep = keep
        # A run never changes owner: each is looked up once while its steps keep coming.
        self._owners: OrderedDict[str, Owner] = OrderedDict()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Store the spans that belong to a run; a span seen twice is stored once."""
        try:
            rows = _rows(spans, self._owners_of(spans))
            if rows:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        # Spans lost to a server crash are not worth a WAL flush per batch.
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    conn.execute(_INSERT[conn.dialect.name], rows)
                    _prune(conn, self.keep)
        except Exception:
            log.exception("could not store %d spans", len(spans))
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release: the engine belongs to the runtime."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Every export is written before it returns."""
        return True

    def _owners_of(self, spans: Sequence[ReadableSpan]) -> dict[str, Owner]:
        run_ids = {
            str(s.attributes[RUN_ID]) for s in spans if s.attributes and RUN_ID in s.attributes
        }
        unknown = sorted(r for r in run_ids if r not in self._owners)
        if unknown:
            with reader(self.engine).connect() as conn:
                for r in conn.execute(
                    select(RUNS.c.run_id, RUNS.c.tenant_id, RUNS.c.user_id).where(
                        RUNS.c.run_id.in_(unknown)
                    )
                ):
                    self._owners[r.run_id] = (r.tenant_id, r.user_id)
            while len(self._owners) > _OWNERS_CACHED:
                self._owners.popitem(last=False)
        return {r: self._owners[r] for r in run_ids if r in self._owners}


def _rows(spans: Sequence[ReadableSpan], owners: dict[str, Owner]) -> list[dict[str, Any]]:
    rows = []
    for s in spans:
        attrs = dict(s.attributes or {})
        owner = owners.get(str(attrs.get(RUN_ID)))
        if owner is None or s.context is None:
            continue
        rows.append(
            {
                "tenant_id": owner[0],
                "user_id": owner[1],
                "run_id": str(attrs[RUN_ID]),
                "trace_id": format_trace_id(s.context.trace_id),
                "span_id": format_span_id(s.context.span_id),
                "parent_span_id": format_span_id(s.parent.span_id) if s.parent else None,
                "name": s.name[:128],
                "status": _STATUS[s.status.status_code],
                "start_ns": s.start_time or 0,
                "end_ns": s.end_time or s.start_time or 0,
                "attributes": _plain(attrs),
                "events": [
                    {"name": e.name, "time_ns": e.timestamp, "attributes": _plain(e.attributes)}
                    for e in s.events
                ],
            }
        )
    return rows


def _plain(attributes: Attributes) -> dict[str, Any]:
    """Attributes as JSON values (sequences arrive as tuples)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (attributes or {}).items()}


def _prune(conn: Connection, keep: int) -> None:
    # Ids grow with every insert, so everything more than ``keep`` below the newest is older
    # than the newest ``keep`` rows (gaps only make the table smaller than its bound).
    newest = conn.execute(select(func.max(SPANS.c.id))).scalar()
    if newest is not None and newest > keep:
        conn.execute(delete(SPANS).where(SPANS.c.id <= newest - keep))


def stored_spans(
    conn: Connection, tenant_id: str, user_id: str, run_id: str
) -> list[dict[str, Any]]:
    """The run's stored spans, scoped to its owner, earliest first."""
    return [
        dict(r)
        for r in conn.execute(
            select(SPANS)
            .where(
                SPANS.c.tenant_id == tenant_id,
                SPANS.c.user_id == user_id,
                SPANS.c.run_id == run_id,
            )
            .order_by(SPANS.c.start_ns, SPANS.c.id)
        ).mappings()
    ]
