"""Model spend over a time window, grouped one way, for one user or (admins) a whole tenant.

Spend comes from the model-call ledger (core.store.model_calls), which the step writes in the
same transaction as each decision, so every call is counted once. A call is attributed to a
tool when its step proposed a tool call that was executed: the spend of choosing the tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, select

from core.errors import InvalidInput
from core.ids import utcnow
from core.store.model_calls import MODEL_CALLS
from core.store.tables import ToolInvocation

TOOL_INVOCATIONS = ToolInvocation.__table__  # type: ignore[attr-defined]
DEFAULT_WINDOW = timedelta(days=30)
MAX_LINES = 1000


class GroupBy(StrEnum):
    """What one line of a cost report sums over."""

    TENANT = "tenant"
    USER = "user"
    RUN = "run"
    MODEL = "model"
    TOOL = "tool"
    TASK_TYPE = "task_type"


@dataclass(frozen=True)
class CostLine:
    """The spend of one group; ``key`` is None for calls outside any group (no tool)."""

    key: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class CostReport:
    """Spend in ``[since, until)`` of one user, or of every user of the tenant (``user_id``
    None), most expensive group first; the totals cover every group, listed or not."""

    tenant_id: str
    user_id: str | None
    group_by: GroupBy
    since: datetime
    until: datetime
    lines: tuple[CostLine, ...]
    total_calls: int
    total_usd: float


def cost_window(
    since: datetime | None, until: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The window to report on, in UTC: ``until`` defaults to now and ``since`` to 30 days
    before it; a time without a zone is UTC. :class:`InvalidInput` if it is empty."""
    try:
        end = _utc(until) if until is not None else (now or utcnow())
        start = _utc(since) if since is not None else end - DEFAULT_WINDOW
    except OverflowError:
        raise InvalidInput("since and until must lie between the years 1 and 9999 in UTC") from None
    if start >= end:
        raise InvalidInput(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return start, end


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _key(group_by: GroupBy) -> Any:
    mc = MODEL_CALLS.c
    if group_by is GroupBy.TOOL:
        ti = TOOL_INVOCATIONS.c
        return (
            select(func.min(ti.tool_name))
            .where(ti.tenant_id == mc.tenant_id, ti.run_id == mc.run_id, ti.step == mc.step)
            .scalar_subquery()
        )
    columns = {
        GroupBy.TENANT: mc.tenant_id,
        GroupBy.USER: mc.user_id,
        GroupBy.RUN: mc.run_id,
        GroupBy.MODEL: mc.model,
        GroupBy.TASK_TYPE: mc.task_type,
    }
    return columns[group_by]


def spend_by(
    conn: Connection,
    tenant_id: str,
    user_id: str | None,
    group_by: GroupBy,
    since: datetime,
    until: datetime,
    limit: int = MAX_LINES,
) -> CostReport:
    """Model spend of ``user_id`` (None: the whole tenant, for admins only) in the window,
    grouped by ``group_by``; at most ``limit`` lines."""
    mc = MODEL_CALLS.c
    scope = [mc.tenant_id == tenant_id]
    if user_id is not None:
        scope.append(mc.user_id == user_id)
    window = [mc.created_at >= _utc(since), mc.created_at < _utc(until)]
    calls = (
        select(
            _key(group_by).label("key"),
            mc.input_tokens,
            mc.output_tokens,
            mc.cost_usd,
        )
        .where(*scope, *window)
        .subquery()
    )
    cost = func.coalesce(func.sum(calls.c.cost_usd), 0.0)
    rows = conn.execute(
        select(
            calls.c.key,
            func.count().label("calls"),
            func.coalesce(func.sum(calls.c.input_tokens), 0).label("input_tokens"),
            func.coalesce(func.sum(calls.c.output_tokens), 0).label("output_tokens"),
            cost.label("cost_usd"),
        )
        .group_by(calls.c.key)
        .order_by(cost.desc(), calls.c.key)
        .limit(limit)
    ).all()
    total_calls, total_usd = conn.execute(
        select(func.count(), func.coalesce(func.sum(mc.cost_usd), 0.0)).where(*scope, *window)
    ).one()
    return CostReport(
        tenant_id=tenant_id,
        user_id=user_id,
        group_by=group_by,
        since=_utc(since),
        until=_utc(until),
        lines=tuple(
            CostLine(
                key=r.key,
                calls=int(r.calls),
                input_tokens=int(r.input_tokens),
                output_tokens=int(r.output_tokens),
                cost_usd=float(r.cost_usd),
            )
            for r in rows
        ),
        total_calls=int(total_calls),
        total_usd=float(total_usd),
    )
