"""/runs/{run_id}/trace: the spans of a run, as a tree."""

from __future__ import annotations

from fastapi import APIRouter

from core.api.deps import IdentityDep, RuntimeDep
from core.tracing.service import run_trace
from core.tracing.tree import RunTrace

router = APIRouter(prefix="/runs", tags=["runs"])


@router.get("/{run_id}/trace", response_model=RunTrace)
def get_trace(run_id: str, who: IdentityDep, rt: RuntimeDep) -> RunTrace:
    """The run's trace: its steps, each with the context assembly, decision, model calls,
    tool calls and checkpoint writes inside it, earliest first."""
    return run_trace(rt.engine, who.tenant_id, who.user_id, run_id)
