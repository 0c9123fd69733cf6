"""/calls/{call_id}/trace: the spans of one call, as a tree."""

from __future__ import annotations

from fastapi import APIRouter

from core.api.deps import IdentityDep, RuntimeDep
from core.tracing.service import call_trace
from core.tracing.tree import CallTrace

router = APIRouter(prefix="/calls", tags=["calls"])


@router.get("/{call_id}/trace", response_model=CallTrace)
def get_call_trace(call_id: str, who: IdentityDep, rt: RuntimeDep) -> CallTrace:
    """The call's trace: the call, its greeting, each turn with its stages (linked to the run
    the turn drove) and each barge-in, earliest first."""
    return call_trace(rt.engine, who.tenant_id, who.user_id, call_id)
