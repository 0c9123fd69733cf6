"""Model-call accounting: attribute every call's cost, and say what budget is left.

The step records the calls of a decision (``AgentResult.calls``, or ``AgentError.calls``
when it failed) in the same transaction as the decision, so a crashed step neither loses
nor double-counts them. Before the next decision it reads :func:`budget_for` into
``ContextPack.budget``; the gateway refuses a call that budget cannot cover.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select

from core.config import Settings
from core.ids import utcnow
from core.store.model_calls import MODEL_CALLS
from models.contract import ModelCallRecord


def record_model_calls(
    conn: Connection,
    *,
    tenant_id: str,
    user_id: str,
    run_id: str,
    step: int,
    task_type: str,
    calls: list[ModelCallRecord],
) -> None:
    """Store one row per model call of a step."""
    if not calls:
        return
    now = utcnow()
    conn.execute(
        insert(MODEL_CALLS),
        [
            {
                "tenant_id": tenant_id,
                "user_id": user_id,
                "run_id": run_id,
                "step": step,
                "task_type": task_type,
                "model": c.model[:200],
                "model_name": (c.model_name or None) and c.model_name[:100],
                "status": c.status[:16],
                "error": c.error,
                "attempt": c.attempts,
                "input_tokens": c.input_tokens,
                "output_tokens": c.output_tokens,
                "latency_ms": c.latency_ms,
                "cost_usd": c.cost_usd,
                "created_at": now,
            }
            for c in calls
        ],
    )


def spend(
    conn: Connection, *, tenant_id: str, run_id: str, since: datetime | None = None
) -> dict[str, float]:
    """USD spent on models by the run, and by the tenant (since ``since`` when given)."""
    cost = func.coalesce(func.sum(MODEL_CALLS.c.cost_usd), 0.0)
    run_spent = conn.execute(
        select(cost).where(MODEL_CALLS.c.tenant_id == tenant_id, MODEL_CALLS.c.run_id == run_id)
    ).scalar_one()
    tenant_q = select(cost).where(MODEL_CALLS.c.tenant_id == tenant_id)
    if since is not None:
        tenant_q = tenant_q.where(MODEL_CALLS.c.created_at >= since)
    tenant_spent = conn.execute(tenant_q).scalar_one()
    return {"run_spent_usd": float(run_spent), "tenant_spent_usd": float(tenant_spent)}


def budget_for(
    conn: Connection, settings: Settings, *, tenant_id: str, run_id: str
) -> dict[str, Any]:
    """``ContextPack.budget`` for the run's next step: spent and remaining USD (None: no
    limit), from BATON_RUN_BUDGET_USD, BATON_TENANT_BUDGET_USD and its window."""
    run_limit, tenant_limit = settings.run_budget_usd, settings.tenant_budget_usd
    if run_limit is None and tenant_limit is None:
        # Nothing to enforce: no need to sum the ledger on every step.
        return {"run_remaining_usd": None, "tenant_remaining_usd": None}
    since = utcnow() - timedelta(days=settings.tenant_budget_window_days)
    spent = spend(conn, tenant_id=tenant_id, run_id=run_id, since=since)
    return {
        **spent,
        "run_remaining_usd": None if run_limit is None else run_limit - spent["run_spent_usd"],
        "tenant_remaining_usd": (
            None if tenant_limit is None else tenant_limit - spent["tenant_spent_usd"]
        ),
    }
