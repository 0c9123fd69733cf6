"""Deployment-wide counters read from the database at scrape time.

The API and any number of workers may be separate processes, so counts that must be exact
(run outcomes, resumes, tool denials and timeouts, approvals, model fallbacks) are aggregated
from the append-only event log and the ledgers rather than kept in memory. Each scrape runs a
few grouped counts over the whole deployment: /metrics is for operators, never per tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, Select, exists, func, select
from sqlalchemy.exc import SQLAlchemyError

from core.runs.events import EventType
from core.store.db import reader
from core.store.model_calls import MODEL_CALLS
from core.store.tables import Approval, RunEvent

log = logging.getLogger(__name__)
EVENTS = RunEvent.__table__  # type: ignore[attr-defined]
APPROVALS = Approval.__table__  # type: ignore[attr-defined]
E = EventType
OUTCOMES = {E.RUN_COMPLETED: "completed", E.RUN_FAILED: "failed", E.RUN_CANCELLED: "cancelled"}
RESUMES = (E.RUN_RESUMED.value, E.LEASE_TAKEN_OVER.value)
UNKNOWN = "unknown"
# An approval closed by no one (its run was cancelled) has no channel.
NO_CHANNEL = "none"


def _grouped(conn: Connection, inner: Select[Any]) -> list[tuple[Any, ...]]:
    """Counts of ``inner``'s rows per value of its columns (grouped outside the select so a
    JSON path is grouped by its value on Postgres too)."""
    sub = inner.subquery()
    cols = list(sub.c)
    return [tuple(r) for r in conn.execute(select(*cols, func.count()).group_by(*cols)).all()]


def run_outcomes(conn: Connection) -> Iterator[tuple[str, int]]:
    """(final status, runs that reached it): every completion, failure and cancellation."""
    inner = select(EVENTS.c.type).where(EVENTS.c.type.in_([e.value for e in OUTCOMES]))
    for kind, n in _grouped(conn, inner):
        yield OUTCOMES[E(kind)], int(n)


def resume_outcomes(conn: Connection) -> Iterator[tuple[str, int]]:
    """(success | failure, count): runs that ended after being resumed (by a person, or by a
    worker taking over a crashed one's lease) and how they ended."""
    earlier = EVENTS.alias("resumed")
    inner = select(EVENTS.c.type).where(
        EVENTS.c.type.in_([E.RUN_COMPLETED.value, E.RUN_FAILED.value]),
        exists().where(
            earlier.c.run_id == EVENTS.c.run_id,
            earlier.c.type.in_(RESUMES),
            earlier.c.seq < EVENTS.c.seq,
        ),
    )
    for kind, n in _grouped(conn, inner):
        yield ("success" if kind == E.RUN_COMPLETED.value else "failure"), int(n)


def tool_denials(conn: Connection) -> Iterator[tuple[str, int]]:
    """(tool, calls the gate refused)."""
    inner = select(EVENTS.c.data["tool"].as_string().label("tool")).where(
        EVENTS.c.type == E.TOOL_CALL_DENIED.value
    )
    for tool, n in _grouped(conn, inner):
        yield tool or UNKNOWN, int(n)


def tool_timeouts(conn: Connection) -> Iterator[tuple[str, int]]:
    """(tool, calls that ended timed out after their retries)."""
    inner = select(EVENTS.c.data["tool"].as_string().label("tool")).where(
        EVENTS.c.type == E.TOOL_CALL_FAILED.value,
        EVENTS.c.data["error_type"].as_string() == "timeout",
    )
    for tool, n in _grouped(conn, inner):
        yield tool or UNKNOWN, int(n)


def approval_outcomes(conn: Connection) -> Iterator[tuple[str, str, int]]:
    """(channel, outcome, approvals): decided approvals by where and how they were decided."""
    inner = select(APPROVALS.c.channel, APPROVALS.c.status).where(APPROVALS.c.status != "pending")
    for channel, status, n in _grouped(conn, inner):
        yield channel or NO_CHANNEL, status, int(n)


def model_fallbacks(conn: Connection) -> Iterator[tuple[str, int]]:
    """(model, fallbacks): provider failures after which the step tried another model."""
    mc, later = MODEL_CALLS, MODEL_CALLS.alias("later")
    inner = select(func.coalesce(mc.c.model_name, mc.c.model).label("model")).where(
        mc.c.status == "error",
        exists().where(
            later.c.tenant_id == mc.c.tenant_id,
            later.c.run_id == mc.c.run_id,
            later.c.step == mc.c.step,
            later.c.id > mc.c.id,
        ),
    )
    for model, n in _grouped(conn, inner):
        yield model, int(n)


class DatabaseCollector(Collector):
    """Reads the deployment's counters from ``engine`` on every scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        """The counters, and whether the database could be read."""
        up = GaugeMetricFamily(
            "baton_metrics_database_up", "1 when the database counters below could be read"
        )
        try:
            with reader(self.engine).connect() as conn:
                families = list(self._families(conn))
        except SQLAlchemyError as exc:
            log.warning("metrics: cannot read the database counters: %s", exc)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _families(self, conn: Connection) -> Iterator[Metric]:
        yield _counter(
            "baton_runs_finished",
            "Runs that reached a final status",
            ["status"],
            run_outcomes(conn),
        )
        yield _counter(
            "baton_run_resumes",
            "Resumed runs (by a person or after a worker crash) by how they ended",
            ["outcome"],
            resume_outcomes(conn),
        )
        yield _counter(
            "baton_tool_denials", "Tool calls the gate refused", ["tool"], tool_denials(conn)
        )
        yield _counter(
            "baton_tool_timeouts", "Tool calls that timed out", ["tool"], tool_timeouts(conn)
        )
        yield _counter(
            "baton_approvals",
            "Decided approvals by channel (voice, web, api, dtmf...) and outcome",
            ["channel", "outcome"],
            approval_outcomes(conn),
        )
        yield _counter(
            "baton_model_fallbacks",
            "Model provider failures after which another model was tried",
            ["model"],
            model_fallbacks(conn),
        )


def _counter(
    name: str, documentation: str, labels: list[str], rows: Iterable[tuple[Any, ...]]
) -> CounterMetricFamily:
    """A counter family with one sample per row: the label values, then the count."""
    family = CounterMetricFamily(name, documentation, labels=labels)
    for *values, n in rows:
        family.add_metric([str(v) for v in values], n)
    return family
