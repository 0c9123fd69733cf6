"""The tool-invocation table's one writer.

A call is recorded before it executes, under an idempotency key derived from the run, step,
tool and arguments. Recording it again under the same key returns the stored row (a replay
after a crash); the same key with other arguments is refused. Each write happens inside the
caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.ids import hash_json, new_id
from core.store.tables import ToolInvocation
from core.tools.spec import ToolResult

INVOCATIONS = ToolInvocation.__table__  # type: ignore[attr-defined]

# Statements built once (compilation is memoised per statement object).
_INSERT = {
    "postgresql": pg_insert(INVOCATIONS).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(INVOCATIONS).on_conflict_do_nothing(),
}
_FINISH = (
    update(INVOCATIONS)
    .where(INVOCATIONS.c.tool_call_id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        completed_at=bindparam("b_at"),
        result_json=bindparam("b_result"),
        error_json=bindparam("b_error"),
    )
)


class IdempotencyConflict(Exception):
    """The same idempotency key was used with different arguments."""

    def __init__(self, tool: str, key: str) -> None:
        super().__init__(f"idempotency key '{key}' of {tool} was used with other arguments")


class ApprovalReused(Exception):
    """An approval that already authorised an execution was presented again."""


def idempotency_key(run_id: str, step: int, tool: str, arguments: dict[str, Any]) -> str:
    """The key of a tool call: derived from run, step, tool and arguments."""
    return f"{run_id}:{step}:{tool}:{hash_json(arguments)[:16]}"


def record_start(
    conn: Connection,
    run: dict[str, Any],
    step: int,
    tool: str,
    arguments: dict[str, Any],
    approval_id: str | None,
    key: str,
    now: datetime,
) -> dict[str, Any]:
    """Record that ``tool`` is about to run with ``arguments``; returns the invocation row.

    A row already stored under ``key`` with the same arguments is returned as it is (its
    status tells whether the call already finished); other arguments raise
    IdempotencyConflict, and an approval that authorised another call raises ApprovalReused.
    """
    row = {
        "tool_call_id": new_id("tc"),
        "run_id": run["run_id"],
        "tenant_id": run["tenant_id"],
        "user_id": run["user_id"],
        "step": step,
        "checkpoint_id": run["latest_checkpoint_id"],
        "tool_name": tool,
        "arguments_json": arguments,
        "arguments_hash": hash_json(arguments),
        "idempotency_key": key,
        "status": "running",
        "approval_id": approval_id,
        "attempts": 1,
        "started_at": now,
        "completed_at": None,
        "result_json": None,
        "error_json": None,
    }
    if conn.execute(_INSERT[conn.dialect.name], row).rowcount == 1:
        return row
    existing = find_invocation(conn, tool, key)
    if existing is None:
        raise ApprovalReused(f"approval '{approval_id}' already authorised a call")
    if existing["arguments_hash"] != row["arguments_hash"]:
        raise IdempotencyConflict(tool, key)
    return existing


def record_result(conn: Connection, tool_call_id: str, result: ToolResult, now: datetime) -> None:
    """Store how the call ended: its result when it succeeded, else its error."""
    payload = result.model_dump(mode="json")
    ok = result.status == "succeeded"
    conn.execute(
        _FINISH,
        {
            "b_id": tool_call_id,
            "b_status": "succeeded" if ok else "failed",
            "b_at": now,
            "b_result": payload if ok else None,
            "b_error": None if ok else payload,
        },
    )


def record_retry(conn: Connection, tool_call_id: str) -> None:
    """Count one more attempt of a call that a stopped worker left running."""
    conn.execute(
        update(INVOCATIONS)
        .where(INVOCATIONS.c.tool_call_id == tool_call_id)
        .values(attempts=INVOCATIONS.c.attempts + 1)
    )


def find_invocation(conn: Connection, tool: str, key: str) -> dict[str, Any] | None:
    """The invocation recorded under (tool, key), if any."""
    row = (
        conn.execute(
            select(INVOCATIONS).where(
                INVOCATIONS.c.tool_name == tool, INVOCATIONS.c.idempotency_key == key
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def latest_at_step(conn: Connection, run_id: str, step: int) -> dict[str, Any] | None:
    """The most recently started invocation of ``run_id`` at ``step``, if any."""
    row = (
        conn.execute(
            select(INVOCATIONS)
            .where(INVOCATIONS.c.run_id == run_id, INVOCATIONS.c.step == step)
            .order_by(INVOCATIONS.c.started_at.desc())
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
