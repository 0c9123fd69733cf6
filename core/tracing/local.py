"""The local span store: an exporter that writes finished spans to the ``spans`` table, and
the scoped read of one run's or one call's spans.

Used when no OTLP endpoint is configured, so the embedded default still shows traces. The
exporter runs on the span batcher's thread: a step never waits for a span to be written.
The owner of a run's span comes from the ``runs`` table (the span carries only the run id);
a call's span carries its owner. The table is kept to a bound by deleting the oldest rows
after each batch.

On SQLite the export shares the single writer with the steps, so everything but the insert
itself (finding owners, building rows) happens before the write transaction opens.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import StatusCode
from sqlalchemy import ColumnElement, Connection, Engine, delete, func, select

from core.runs.log import RUNS
from core.store.db import reader
from core.tracing.attributes import CALL_ID, RUN_ID
from core.tracing.ids import hex_trace_id
from core.tracing.recorder import RecordedSpan
from core.tracing.tables import SPANS

log = logging.getLogger(__name__)
_COLUMNS = (
    "tenant_id, user_id, run_id, call_id, trace_id, span_id, parent_span_id, name, status, "
    "start_ns, end_ns, attributes, events"
)
# Rows go to the driver as they are, with the JSON already encoded: a batch needs none of
# SQLAlchemy's per-value processing.
_INSERT_SQLITE = (
    f"INSERT OR IGNORE INTO spans ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# One per connection, emptied at every commit. Only the copied columns: the real table's id
# comes from its own sequence when the rows are moved over.
_SCRATCH_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS spans_batch (tenant_id varchar, user_id varchar, "
    "run_id varchar, call_id varchar, trace_id varchar, span_id varchar, "
    "parent_span_id varchar, name varchar, status varchar, start_ns bigint, end_ns bigint, "
    "attributes jsonb, events jsonb) ON COMMIT DELETE ROWS"
)
_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}
_OWNERS_CACHED = 10_000
_json = json.JSONEncoder(separators=(",", ":"), default=str).encode
Owner = tuple[str, str]
Row = tuple[Any, ...]


class LocalSpanExporter:
    """Writes each batch of spans in one transaction and keeps at most ``keep`` rows."""

    def __init__(self, engine: Engine, keep: int) -> None:
        self.engine = engine
        self.keep = keep
        # A run never changes owner: each is looked up once while its steps keep coming.
        self._owners: OrderedDict[str, Owner] = OrderedDict()

    def export(self, spans: Sequence[RecordedSpan]) -> bool:
        """Store the spans that belong to a run or a call; a span seen twice is stored once."""
        try:
            rows = _rows(spans, self._owners_of(spans))
            if rows:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        _copy_postgres(conn, rows)
                    else:
                        conn.exec_driver_sql(_INSERT_SQLITE, rows)
                    _prune(conn, self.keep)
        except Exception:
            log.exception("could not store %d spans", len(spans))
            return False
        return True

    def shutdown(self) -> None:
        """Nothing to release: the engine belongs to the runtime."""

    def _owners_of(self, spans: Sequence[RecordedSpan]) -> dict[str, Owner]:
        run_ids = {s.run_id for s in spans if s.run_id is not None}
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


def _copy_postgres(conn: Connection, rows: list[Row]) -> None:
    """COPY the rows into a scratch table and move them over in one INSERT (which skips a
    span already stored): COPY costs this process about half as much per row as an
    executemany INSERT."""
    # Spans lost to a server crash are not worth a WAL flush per batch.
    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    conn.exec_driver_sql(_SCRATCH_TABLE)
    driver = conn.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY spans_batch ({_COLUMNS}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    conn.exec_driver_sql(
        f"INSERT INTO spans ({_COLUMNS}) SELECT {_COLUMNS} FROM spans_batch ON CONFLICT DO NOTHING"
    )


def _rows(spans: Sequence[RecordedSpan], owners: dict[str, Owner]) -> list[Row]:
    rows: list[Row] = []
    for s in spans:
        if s.call is not None:
            owner: Owner | None = (s.call.tenant_id, s.call.user_id)
            subject = s.call.call_id
        elif s.run_id is not None:
            owner, subject = owners.get(s.run_id), s.run_id
        else:
            continue
        if owner is None:
            continue
        rows.append(
            (
                owner[0],
                owner[1],
                s.run_id,
                s.call.call_id if s.call is not None else None,
                hex_trace_id(subject),
                f"{s.context.span_id:016x}",
                f"{s.parent.span_id:016x}" if s.parent is not None else None,
                s.name[:128],
                _STATUS[s.status],
                s.start_ns,
                s.end_ns if s.end_ns is not None else s.start_ns,
                _json(s.attributes),
                _json([{"name": n, "time_ns": t, "attributes": a} for n, t, a in s.events])
                if s.events
                else "[]",
            )
        )
    return rows


def _prune(conn: Connection, keep: int) -> None:
    # Ids grow with every insert, so everything more than ``keep`` below the newest is older
    # than the newest ``keep`` rows (gaps only make the table smaller than its bound).
    newest = conn.execute(select(func.max(SPANS.c.id))).scalar()
    if newest is not None and newest > keep:
        conn.execute(delete(SPANS).where(SPANS.c.id <= newest - keep))


def stored_spans(
    conn: Connection, tenant_id: str, user_id: str, run_id: str
) -> list[dict[str, Any]]:
    """The run's stored spans, scoped to its owner, earliest first; attributes include the
    run id like exported spans' do."""
    return _scoped(conn, tenant_id, user_id, SPANS.c.run_id == run_id, {RUN_ID: run_id})


def stored_call_spans(
    conn: Connection, tenant_id: str, user_id: str, call_id: str
) -> list[dict[str, Any]]:
    """The call's stored spans, scoped to its owner, earliest first; attributes include the
    call id like exported spans' do."""
    return _scoped(conn, tenant_id, user_id, SPANS.c.call_id == call_id, {CALL_ID: call_id})


def _scoped(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    subject: ColumnElement[bool],
    own: dict[str, str],
) -> list[dict[str, Any]]:
    return [
        {**r, "attributes": {**own, **(r["attributes"] or {})}}
        for r in conn.execute(
            select(SPANS)
            .where(SPANS.c.tenant_id == tenant_id, SPANS.c.user_id == user_id, subject)
            .order_by(SPANS.c.start_ns, SPANS.c.id)
        ).mappings()
    ]
