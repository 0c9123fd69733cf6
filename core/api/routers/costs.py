"""/costs: model spend over a time window, grouped by tenant, user, run, model, tool or task."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from core.api.deps import IdentityDep, RuntimeDep
from core.auth.scopes import Scope, has_scope
from core.costs.service import MAX_LINES, CostReport, GroupBy, cost_window, spend_by
from core.store.db import reader

router = APIRouter(tags=["costs"])


class CostLineOut(BaseModel):
    """The spend of one group (``key`` null: calls of steps that ran no tool)."""

    key: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class CostReportOut(BaseModel):
    """Spend in ``[since, until)``: of the caller (``scope`` user) or of their whole tenant."""

    scope: Literal["user", "tenant"]
    tenant_id: str
    user_id: str | None
    group_by: GroupBy
    since: datetime
    until: datetime
    total_calls: int
    total_usd: float
    lines: list[CostLineOut]

    @classmethod
    def of(cls, report: CostReport) -> CostReportOut:
        """From the service's report."""
        return cls(
            scope="user" if report.user_id is not None else "tenant",
            tenant_id=report.tenant_id,
            user_id=report.user_id,
            group_by=report.group_by,
            since=report.since,
            until=report.until,
            total_calls=report.total_calls,
            total_usd=report.total_usd,
            lines=[CostLineOut(**vars(line)) for line in report.lines],
        )


@router.get("/costs", response_model=CostReportOut)
def costs(
    who: IdentityDep,
    rt: RuntimeDep,
    since: Annotated[
        datetime | None, Query(description="Start (ISO 8601, included); default 30 days before")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="End (ISO 8601, excluded); default now")
    ] = None,
    group_by: Annotated[GroupBy, Query(description="What one line sums over")] = GroupBy.MODEL,
    scope: Annotated[
        Literal["user", "tenant"],
        Query(description="user: your own spend; tenant: every user's (needs the admin scope)"),
    ] = "user",
    limit: Annotated[int, Query(ge=1, le=MAX_LINES, description="Most lines returned")] = 100,
) -> CostReportOut:
    """Your model spend in a window (a time without a zone is UTC), most expensive first.
    An admin-scoped key may ask for its whole tenant's with ``scope=tenant``."""
    if scope == "tenant" and not has_scope(who, Scope.ADMIN):
        raise HTTPException(403, f"scope=tenant needs the '{Scope.ADMIN}' scope; this key lacks it")
    start, end = cost_window(since, until)
    with reader(rt.engine).connect() as conn:
        report = spend_by(
            conn,
            who.tenant_id,
            who.user_id if scope == "user" else None,
            group_by,
            start,
            end,
            limit=limit,
        )
    return CostReportOut.of(report)
