"""The run view as a fold over its events.

``apply_event`` is pure: the stored ``runs`` row is always ``fold(events)``, and
:func:`rebuild` recomputes it from the log to prove that. Every :class:`EventType` has an
explicit entry below (its status effect and what it changes in the view), so a new type cannot
be appended without deciding what it means for the view. Lease columns are operational and are
not part of the projection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from core.runs.events import EventType, event_type
from core.runs.states import RunStatus

S = RunStatus
E = EventType
View = dict[str, Any]
Data = dict[str, Any]

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
    "not_before",
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


StatusEffect = RunStatus | Callable[[View], RunStatus | None] | None
FieldEffect = Callable[[View, Data, datetime], None]

# Event type -> the status it moves the run to (None: no change). Every type is listed.
STATUS_EFFECT: dict[EventType, StatusEffect] = {
    E.RUN_CREATED: S.CREATED,
    E.RUN_QUEUED: S.QUEUED,
    E.RUN_RESUMED: S.QUEUED,
    E.RUN_COMPLETED: S.COMPLETED,
    E.RUN_FAILED: S.FAILED,
    E.RUN_CANCELLED: S.CANCELLED,
    E.RUN_META_CHANGED: None,
    E.LEASE_TAKEN_OVER: None,
    E.STEP_STARTED: S.PLANNING,
    E.MODEL_CALLED: S.WAITING_FOR_MODEL,
    E.DECISION_RECORDED: None,
    E.CHECKPOINT_WRITTEN: None,
    E.TOOL_CALL_PROPOSED: S.WAITING_FOR_TOOL,
    E.TOOL_CALL_DENIED: S.QUEUED,
    E.TOOL_CALL_DEFERRED: S.QUEUED,
    E.TOOL_CALL_STARTED: S.RUNNING_TOOL,
    E.TOOL_CALL_SUCCEEDED: _queued_after_tool,
    E.TOOL_CALL_FAILED: _queued_after_tool,
    E.TOOL_CALL_REPLAYED: _queued_after_tool,
    E.SKILL_ACTIVATED: None,
    E.APPROVAL_REQUESTED: S.WAITING_FOR_HUMAN,
    E.APPROVAL_GRANTED: S.QUEUED,
    E.APPROVAL_DENIED: S.QUEUED,
    E.APPROVAL_SUPERSEDED: None,
    E.HUMAN_INPUT_REQUESTED: S.WAITING_FOR_HUMAN,
    E.USER_MESSAGE_RECEIVED: _queued_when_idle,
    E.MEMORY_WRITE_PROPOSED: S.QUEUED,
    E.MEMORY_CONFIRMATION_REQUESTED: None,
    E.MEMORY_STORED: None,
    E.ARTIFACT_CREATED: None,
    E.HANDOFF_REQUESTED: None,
}


def _created(v: View, d: Data, at: datetime) -> None:
    # The first event: every projected column starts from it.
    v.clear()
    v.update({k: None for k in PROJECTED})
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


def _finished(v: View, at: datetime) -> None:
    v.update(pending_approval_id=None, not_before=None, completed_at=at)


def _completed(v: View, d: Data, at: datetime) -> None:
    _finished(v, at)
    v["result"] = d.get("result")


def _failed(v: View, d: Data, at: datetime) -> None:
    _finished(v, at)
    v["failure_reason"] = d.get("reason")


def _cancelled(v: View, _d: Data, at: datetime) -> None:
    v.update(pending_approval_id=None, not_before=None, cancelled_at=at)


def _meta_changed(v: View, d: Data, _at: datetime) -> None:
    v["meta"] = {**(v.get("meta") or {}), **d.get("meta", {})}


def _step_started(v: View, d: Data, _at: datetime) -> None:
    # A deferred call's wait is over once the step that retries it starts.
    v.update(current_step=d["step"], not_before=None)


def _deferred(v: View, d: Data, _at: datetime) -> None:
    v["not_before"] = datetime.fromisoformat(d["retry_at"])


def _tool_started(v: View, _d: Data, _at: datetime) -> None:
    v["tool_calls"] = (v.get("tool_calls") or 0) + 1


def _field(name: str, key: str | None = None) -> FieldEffect:
    """Set ``name`` to the event's ``key`` (None without a key: clear it)."""

    def effect(v: View, d: Data, _at: datetime) -> None:
        v[name] = d[key] if key is not None else None

    return effect


def _unchanged(_v: View, _d: Data, _at: datetime) -> None:
    return None


# Event type -> what it changes in the view besides status, sequence and update time.
FIELD_EFFECT: dict[EventType, FieldEffect] = {
    E.RUN_CREATED: _created,
    E.RUN_QUEUED: _unchanged,
    E.RUN_RESUMED: _field("cancelled_at"),
    E.RUN_COMPLETED: _completed,
    E.RUN_FAILED: _failed,
    E.RUN_CANCELLED: _cancelled,
    E.RUN_META_CHANGED: _meta_changed,
    E.LEASE_TAKEN_OVER: _unchanged,
    E.STEP_STARTED: _step_started,
    E.MODEL_CALLED: _unchanged,
    E.DECISION_RECORDED: _unchanged,
    E.CHECKPOINT_WRITTEN: _field("latest_checkpoint_id", "checkpoint_id"),
    E.TOOL_CALL_PROPOSED: _unchanged,
    E.TOOL_CALL_DENIED: _unchanged,
    E.TOOL_CALL_DEFERRED: _deferred,
    E.TOOL_CALL_STARTED: _tool_started,
    E.TOOL_CALL_SUCCEEDED: _unchanged,
    E.TOOL_CALL_FAILED: _unchanged,
    E.TOOL_CALL_REPLAYED: _unchanged,
    E.SKILL_ACTIVATED: _unchanged,
    E.APPROVAL_REQUESTED: _field("pending_approval_id", "approval_id"),
    E.APPROVAL_GRANTED: _field("pending_approval_id"),
    E.APPROVAL_DENIED: _field("pending_approval_id"),
    E.APPROVAL_SUPERSEDED: _field("pending_approval_id"),
    E.HUMAN_INPUT_REQUESTED: _unchanged,
    E.USER_MESSAGE_RECEIVED: _unchanged,
    E.MEMORY_WRITE_PROPOSED: _unchanged,
    E.MEMORY_CONFIRMATION_REQUESTED: _unchanged,
    E.MEMORY_STORED: _unchanged,
    E.ARTIFACT_CREATED: _unchanged,
    E.HANDOFF_REQUESTED: _unchanged,
}


def target_status(view: View, kind: EventType | str) -> RunStatus | None:
    """The status an event of type ``kind`` moves a run in ``view`` to, or None for no change."""
    effect = STATUS_EFFECT[event_type(kind)]
    if effect is None or isinstance(effect, RunStatus):
        return effect
    return effect(view)


def apply_event(
    view: View, kind: EventType | str, data: Data | None, seq: int, at: datetime
) -> View:
    """Return the view after one event (the input is not modified).

    Raises UnknownEventType for a type the projection does not know.
    """
    typed = event_type(kind)
    v = dict(view)
    d = data or {}
    FIELD_EFFECT[typed](v, d, at)
    target = target_status(v, typed)
    if target is not None:
        v["status"] = target.value
    v["last_event_seq"] = seq
    v["updated_at"] = at
    return v


def rebuild(events: Iterable[dict[str, Any]]) -> View:
    """Fold a run's events, in sequence order, into its view."""
    view: View = {}
    for e in events:
        view = apply_event(view, e["type"], e["data"] or {}, e["seq"], e["created_at"])
    return view
