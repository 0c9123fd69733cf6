"""What a person can do with their memories: list, read, edit, delete, pin, confirm, forget.

These functions serve the API router, the ``baton memories`` CLI, the companion web view and
the voice command "forget that". Each takes the caller's tenant and user first. A memory the
caller may not read is not found; one they may read but do not own (a team or tenant memory
someone else created) cannot be changed by them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select

from core.config import get_settings
from core.errors import BatonError, InvalidInput, NotFound
from core.ids import utcnow
from core.memory import index, records
from core.memory.acl import principals
from core.memory.embedding import get_embedder
from core.memory.policy import ProposalRejected, check_content
from core.memory.tables import ACL, MEMORIES
from core.runs.log import RUNS
from core.store.tables import Checkpoint

CHECKPOINTS = Checkpoint.__table__  # type: ignore[attr-defined]
TYPES = ("preference", "fact", "relationship", "procedure", "episode")
STATUSES = ("active", "pending")


class MemoryForbidden(BatonError):
    """The caller can read this memory but it is not theirs to change."""

    status = 403
    code = "forbidden"


def _readable(conn: Connection, tenant_id: str, user_id: str, now: datetime) -> Any:
    """Rows the caller may see in their memory list: their own, and shared ones they can read."""
    shared = select(ACL.c.memory_id).where(
        ACL.c.tenant_id == tenant_id, ACL.c.principal.in_(principals(conn, tenant_id, user_id))
    )
    return and_(
        MEMORIES.c.tenant_id == tenant_id,
        or_(MEMORIES.c.expires_at.is_(None), MEMORIES.c.expires_at > now),
        or_(
            MEMORIES.c.user_id == user_id,
            and_(MEMORIES.c.status == "active", MEMORIES.c.memory_id.in_(shared)),
        ),
    )


def list_memories(
    engine: Engine,
    tenant_id: str,
    user_id: str,
    *,
    status: str | None = None,
    memory_type: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The caller's memories (and shared ones they can read), most recently updated first."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    if memory_type is not None and memory_type not in TYPES:
        raise InvalidInput(f"type must be one of {', '.join(TYPES)}")
    with engine.connect() as conn:
        stmt = select(*records.PUBLIC).where(_readable(conn, tenant_id, user_id, utcnow()))
        if status:
            stmt = stmt.where(MEMORIES.c.status == status)
        if memory_type:
            stmt = stmt.where(MEMORIES.c.type == memory_type)
        stmt = (
            stmt.order_by(MEMORIES.c.pinned.desc(), MEMORIES.c.updated_at.desc())
            .limit(max(1, min(limit, 500)))
            .offset(max(0, offset))
        )
        return [_out(r, user_id) for r in conn.execute(stmt).mappings()]


def pending_memories(engine: Engine, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    """Memories waiting for the caller's yes or no (for the web view and voice)."""
    return list_memories(engine, tenant_id, user_id, status="pending")


def get_memory(engine: Engine, tenant_id: str, user_id: str, memory_id: str) -> dict[str, Any]:
    """One memory the caller can see, with its sources."""
    with engine.connect() as conn:
        return _out(_find(conn, tenant_id, user_id, memory_id), user_id)


def _find(conn: Connection, tenant_id: str, user_id: str, memory_id: str) -> dict[str, Any]:
    row = (
        conn.execute(
            select(MEMORIES).where(
                MEMORIES.c.memory_id == memory_id, _readable(conn, tenant_id, user_id, utcnow())
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no memory '{memory_id}'")
    return dict(row)


def _owned(conn: Connection, tenant_id: str, user_id: str, memory_id: str) -> dict[str, Any]:
    memory = _find(conn, tenant_id, user_id, memory_id)
    if memory["user_id"] != user_id:
        raise MemoryForbidden(f"memory '{memory_id}' is shared with you but is not yours")
    return memory


def _out(row: Any, user_id: str) -> dict[str, Any]:
    data = records.public(row)
    data["editable"] = data["user_id"] == user_id
    return data


def edit_memory(
    engine: Engine,
    tenant_id: str,
    user_id: str,
    memory_id: str,
    *,
    content: str | None = None,
    subject: str | None = None,
    memory_type: str | None = None,
    expires_at: datetime | None = None,
    clear_expiry: bool = False,
) -> dict[str, Any]:
    """Correct a memory. The person's own words are taken as certain (confidence 1.0)."""
    values: dict[str, Any] = {}
    if memory_type is not None:
        if memory_type not in TYPES:
            raise InvalidInput(f"type must be one of {', '.join(TYPES)}")
        values["type"] = memory_type
    if subject is not None:
        clean = " ".join(subject.split()).lower()
        if not clean or len(clean) > 200:
            raise InvalidInput("subject must be 1 to 200 characters")
        values["subject"] = clean
    if clear_expiry:
        values["expires_at"] = None
    elif expires_at is not None:
        values["expires_at"] = expires_at
    vector = None
    if content is not None:
        try:
            content = check_content(content, get_settings())
        except ProposalRejected as exc:
            raise InvalidInput(f"content: {exc}") from None
        vector = get_embedder().embed_one(content)
    if content is None and not values:
        raise InvalidInput("nothing to change: give content, subject, type or expiry")
    with engine.begin() as conn:
        memory = _owned(conn, tenant_id, user_id, memory_id)
        changed = records.change(
            conn,
            memory,
            utcnow(),
            content=content,
            embedding=vector,
            source={"edited_by": f"user:{user_id}"},
            confidence=1.0,
            **values,
        )
    return _out(changed, user_id)


def pin_memory(
    engine: Engine, tenant_id: str, user_id: str, memory_id: str, pinned: bool = True
) -> dict[str, Any]:
    """Pin (or unpin) a memory: pinned memories rank higher and never expire."""
    with engine.begin() as conn:
        memory = _owned(conn, tenant_id, user_id, memory_id)
        extra: dict[str, Any] = {"expires_at": None} if pinned else {}
        changed = records.change(conn, memory, utcnow(), pinned=pinned, **extra)
    return _out(changed, user_id)


def delete_memory(engine: Engine, tenant_id: str, user_id: str, memory_id: str) -> dict[str, Any]:
    """Delete a memory for good: row, ACL, full-text and vector entries."""
    with engine.begin() as conn:
        memory = _owned(conn, tenant_id, user_id, memory_id)
        records.erase(conn, memory_id)
    return {"memory_id": memory_id, "deleted": True, "content": memory["content"]}


def confirm_memory(
    engine: Engine, tenant_id: str, user_id: str, memory_id: str, accept: bool = True
) -> dict[str, Any]:
    """The person's answer to a pending memory: yes makes it active (replacing the memory it
    updates), no deletes it."""
    with engine.begin() as conn:
        memory = _owned(conn, tenant_id, user_id, memory_id)
        if memory["status"] != "pending":
            raise InvalidInput(f"memory '{memory_id}' is not waiting for confirmation")
        if not accept:
            records.erase(conn, memory_id)
            return {"memory_id": memory_id, "deleted": True, "status": "rejected"}
        if memory["supersedes"]:
            old = records.load(conn, memory["supersedes"])
            if old is not None and old["user_id"] == user_id and old["tenant_id"] == tenant_id:
                records.erase(conn, old["memory_id"])
        changed = records.change(
            conn,
            memory,
            utcnow(),
            status="active",
            supersedes=None,
            source={"confirmed_by": f"user:{user_id}"},
        )
    return _out(changed, user_id)


def forget_last_used(
    engine: Engine, tenant_id: str, user_id: str, run_id: str
) -> dict[str, Any] | None:
    """Voice "forget that": delete the top memory of the run's most recent context pack that
    used one (references saved in the checkpoint). None when the run used no memory of the
    caller's."""
    with engine.begin() as conn:
        owner = conn.execute(
            select(func.count()).where(
                RUNS.c.run_id == run_id, RUNS.c.tenant_id == tenant_id, RUNS.c.user_id == user_id
            )
        ).scalar_one()
        if not owner:
            raise NotFound(f"no run '{run_id}'")
        calls = conn.execute(
            select(CHECKPOINTS.c.model_call_json)
            .where(CHECKPOINTS.c.run_id == run_id, CHECKPOINTS.c.model_call_json.is_not(None))
            .order_by(CHECKPOINTS.c.step.desc(), CHECKPOINTS.c.created_at.desc())
        ).scalars()
        for call in calls:
            used = [
                r.split(":", 1)[1]
                for r in (call or {}).get("refs", [])
                if isinstance(r, str) and r.startswith("memory:")
            ]
            for memory_id in used:
                memory = records.load(conn, memory_id)
                if memory and memory["tenant_id"] == tenant_id and memory["user_id"] == user_id:
                    records.erase(conn, memory_id)
                    return {"memory_id": memory_id, "deleted": True, "content": memory["content"]}
            if used:
                return None
    return None


def purge_expired(engine: Engine, now: datetime | None = None, limit: int = 500) -> int:
    """Delete memories past their expiry (retention), from every index; returns how many."""
    now = now or utcnow()
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                select(MEMORIES.c.memory_id)
                .where(MEMORIES.c.expires_at.is_not(None), MEMORIES.c.expires_at <= now)
                .limit(limit)
            ).scalars()
        )
        for memory_id in ids:
            records.erase(conn, memory_id, purge_text=False)
        if ids:
            index.purge_deleted_text(conn)
    return len(ids)


__all__ = [
    "MemoryForbidden",
    "confirm_memory",
    "delete_memory",
    "edit_memory",
    "forget_last_used",
    "get_memory",
    "list_memories",
    "pending_memories",
    "pin_memory",
    "purge_expired",
]
