"""The run view as a fold over its events.

``apply_event`` is pure: the stored ``runs`` row is always ``fold(events)``, and
:func:`rebuild` recomputes it from the log to prove that. Lease columns are operational and
are not part of the projection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from core.runs.states import RunStatus

S = RunStatus
View = dict[str, Any]

# Columns of ``runs`` that the projection owns.
PROJECTED = (
    "run_id",
    "tenant_id",
    "user_id",
    "status",
    "goal",
    "channel",
    "current_step",
    "tool_calls",
    "max_steps",
    "max_tool_calls",
    "max_wall_seconds",
    "deadline_at",
    "latest_checkpoint_id",
    "pending_approval_id",
    "result",
    "failure_reason",
    "parent_run_id",
    "meta",
    "last_event_seq",
    "idempotency_key",
    "request_hash",
    "created_at",
    "updated_at",
    "cancelled_at",
    "completed_at",
)


def _queued_when_idle(view: View) -> RunStatus | None:
    # A message to a run a worker is busy with waits in its inbox for the next step.
    return S.QUEUED if view["status"] in (S.CREATED, S.WAITING_FOR_HUMAN) else None


def _queued_after_tool(view: View) -> RunStatus | None:
    return S.QUEUED if view["status"] == S.RUNNING_TOOL else None


# Event type -> the status it moves the run to (None: no change). Unknown types change nothing.
STATUS_EFFECT: dict[str, RunStatus | Callable[[View], RunStatus | None] | None] = {
    "RunCreated": S.CREATED,
    "RunQueued": S.QUEUED,
    "StepStarted": S.PLANNING,
    "ModelCalled": S.WAITING_FOR_MODEL,
    "DecisionRecorded": None,
    "ToolCallProposed": S.WAITING_FOR_TOOL,
    "ToolCallDenied": S.QUEUED,
    "ToolCallStarted": S.RUNNING_TOOL,
    "ToolCallSucceeded": _queued_after_tool,
    "ToolCallFailed": _queued_after_tool,
    "ToolCallReplayed": _queued_after_tool,
    "ApprovalRequested": S.WAITING_FOR_HUMAN,
    "ApprovalGranted": S.QUEUED,
    "ApprovalDenied": S.QUEUED,
    "HumanInputRequested": S.WAITING_FOR_HUMAN,
    "UserMessageReceived": _queued_when_idle,
    "ApprovalSuperseded": None,
    "MemoryWriteProposed": S.QUEUED,
    "RunResumed": S.QUEUED,
    "RunCompleted": S.COMPLETED,
    "RunFailed": S.FAILED,
    "RunCancelled": S.CANCELLED,
}


def target_status(view: View, event_type: str) -> RunStatus | None:
    """The status ``event_type`` moves a run in ``view`` to, or None for no change."""
    effect = STATUS_EFFECT.get(event_type)
    if effect is None or isinstance(effect, RunStatus):
        return effect
    return effect(view)


def apply_event(view: View, event_type: str, data: dict[str, Any], seq: int, at: datetime) -> View:
    """Return the view after one event (the input is not modified)."""
    v = dict(view)
    d = data or {}
    if event_type == "RunCreated":
        v = {k: None for k in PROJECTED}
        v.update(
            run_id=d["run_id"],
            tenant_id=d["tenant_id"],
            user_id=d["user_id"],
            goal=d["goal"],
            channel=d.get("channel", "api"),
            current_step=0,
            tool_calls=0,
            max_steps=d["max_steps"],
            max_tool_calls=d["max_tool_calls"],
            max_wall_seconds=d["max_wall_seconds"],
            deadline_at=datetime.fromisoformat(d["deadline_at"]),
            parent_run_id=d.get("parent_run_id"),
            meta=d.get("meta") or {},
            idempotency_key=d.get("idempotency_key"),
            request_hash=d.get("request_hash"),
            created_at=at,
        )
    target = target_status(v, event_type)
    if target is not None:
        v["status"] = target.value
    if event_type == "StepStarted":
        v["current_step"] = d["step"]
    elif event_type == "ToolCallStarted":
        v["tool_calls"] = (v.get("tool_calls") or 0) + 1
    elif event_type == "CheckpointWritten":
        v["latest_checkpoint_id"] = d["checkpoint_id"]
    elif event_type == "ApprovalRequested":
        v["pending_approval_id"] = d["approval_id"]
    elif event_type in ("ApprovalGranted", "ApprovalDenied", "RunCancelled", "RunFailed"):
        v["pending_approval_id"] = None
    if event_type == "RunCompleted":
        v["result"] = d.get("result")
        v["completed_at"] = at
    elif event_type == "RunFailed":
        v["failure_reason"] = d.get("reason")
        v["completed_at"] = at
    elif event_type == "RunCancelled":
        v["cancelled_at"] = at
    elif event_type == "RunResumed":
        v["cancelled_at"] = None
    elif event_type == "RunMetaChanged":
        v["meta"] = {**(v.get("meta") or {}), **d.get("meta", {})}
    v["last_event_seq"] = seq
    v["updated_at"] = at
    return v


def rebuild(events: Iterable[dict[str, Any]]) -> View:
    """Fold a run's events, in sequence order, into its view."""
    view: View = {}
    for e in events:
        view = apply_event(view, e["type"], e["data"] or {}, e["seq"], e["created_at"])
    return view
