"""The approvals table's one writer.

An approval is requested for one exact tool call, decided once (approved, denied, or replaced
by an approved edit of the call), and cancelled with its run. Each write happens inside the
caller's transaction, beside the run event that tells of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, update

from core.errors import Conflict
from core.ids import hash_json, new_id, utcnow
from core.store.tables import Approval

APPROVALS = Approval.__table__  # type: ignore[attr-defined]


def default_question(tool: str, arguments: dict[str, Any]) -> str:
    """One clear yes/no question naming the action and its key argument, for a tool that
    words none of its own."""
    key_arg = next((str(v) for v in arguments.values() if isinstance(v, str | int | float)), "")
    action = tool.replace("_", " ").replace(".", " ")
    return f"Should I {action}{' for ' + key_arg if key_arg else ''}?"


def request_approval(
    conn: Connection,
    run: Mapping[str, Any],
    step: int,
    tool: str,
    arguments: dict[str, Any],
    risk_level: int,
    question: str,
    now: datetime,
) -> str:
    """Ask a person to approve ``tool`` with ``arguments`` at ``step`` of ``run``; returns the
    new approval's id."""
    return _insert(conn, run, step, tool, arguments, risk_level, question, now, status="pending")


def _insert(
    conn: Connection,
    run: Mapping[str, Any],
    step: int,
    tool: str,
    arguments: dict[str, Any],
    risk_level: int,
    question: str,
    now: datetime,
    **decision: Any,
) -> str:
    approval_id = new_id("apr")
    conn.execute(
        insert(APPROVALS).values(
            approval_id=approval_id,
            run_id=run["run_id"],
            tenant_id=run["tenant_id"],
            user_id=run["user_id"],
            step=step,
            tool_name=tool,
            arguments_json=arguments,
            arguments_hash=hash_json(arguments),
            risk_level=risk_level,
            question=question,
            created_at=now,
            **decision,
        )
    )
    return approval_id


def decide_approval(
    conn: Connection,
    approval_id: str,
    status: str,
    by: str,
    channel: str,
    evidence: str | None,
) -> None:
    """Record the decision on a pending approval; Conflict when it was decided already."""
    done = conn.execute(
        update(APPROVALS)
        .where(and_(APPROVALS.c.approval_id == approval_id, APPROVALS.c.status == "pending"))
        .values(
            status=status, decided_by=by, channel=channel, evidence=evidence, decided_at=utcnow()
        )
    )
    if done.rowcount != 1:
        raise Conflict(f"approval '{approval_id}' was decided already")


def approve_edited(
    conn: Connection,
    replaced: Mapping[str, Any],
    arguments: dict[str, Any],
    by: str,
    channel: str,
    evidence: str | None,
) -> str:
    """Replace the pending approval ``replaced`` by an approved call with edited
    ``arguments``; returns the new approval's id."""
    decide_approval(conn, replaced["approval_id"], "superseded", by, channel, evidence)
    now = utcnow()
    return _insert(
        conn,
        replaced,
        replaced["step"],
        replaced["tool_name"],
        arguments,
        replaced["risk_level"],
        replaced["question"],
        now,
        status="approved",
        decided_by=by,
        channel=channel,
        evidence=evidence,
        supersedes=replaced["approval_id"],
        decided_at=now,
    )


def cancel_pending(conn: Connection, run_id: str) -> None:
    """The run ends: its pending approvals can no longer be decided."""
    conn.execute(
        update(APPROVALS)
        .where(APPROVALS.c.run_id == run_id, APPROVALS.c.status == "pending")
        .values(status="cancelled", decided_at=utcnow())
    )
