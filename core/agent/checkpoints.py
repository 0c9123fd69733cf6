"""The checkpoints table's one writer: a step's state, written beside its run events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from core.ids import hash_json, new_id
from core.runs.events import EventType
from core.runs.log import RunWriter
from core.store.tables import Checkpoint
from core.tracing import run_span

CHECKPOINTS = Checkpoint.__table__  # type: ignore[attr-defined]
_INSERT = insert(CHECKPOINTS)


def write_checkpoint(
    w: RunWriter,
    step: int,
    state: dict[str, Any],
    *,
    pending: dict[str, Any] | None = None,
    model_call: dict[str, Any] | None = None,
    tool_call: dict[str, Any] | None = None,
    tool_result: dict[str, Any] | None = None,
) -> str:
    """Write the step's checkpoint and its CheckpointWritten event; returns its id."""
    checkpoint_id = new_id("ckp")
    # The event that records this checkpoint is the last one the state has absorbed.
    state = dict(state, event_seq=int(w.view["last_event_seq"]) + 1, step=step)
    attrs: dict[str, int | str] = {"baton.step": step, "baton.checkpoint.id": checkpoint_id}
    with run_span("checkpoint.write", w.view["run_id"], attrs) as span:
        w.conn.execute(
            _INSERT,
            {
                "checkpoint_id": checkpoint_id,
                "run_id": w.view["run_id"],
                "step": step,
                "state_json": state,
                "pending_action_json": pending,
                "model_call_json": model_call,
                "tool_call_json": tool_call,
                "tool_result_json": tool_result,
                "state_hash": hash_json(state),
                "created_at": w.now,
            },
        )
        span.set_attribute("baton.checkpoint.pending", pending is not None)
    w.emit(EventType.CHECKPOINT_WRITTEN, {"checkpoint_id": checkpoint_id, "step": step})
    return checkpoint_id


def relax_commit(conn: Connection) -> None:
    """Let this transaction's commit return before its WAL is flushed (Postgres only)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
