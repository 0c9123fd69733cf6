"""Writing memory rows together with their ACL and index entries, in the caller's transaction.

Every write goes through here so that a row, its ACL and its full-text and vector entries can
never disagree, and a delete removes all of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from core.ids import new_id
from core.memory import index
from core.memory.acl import acl_for
from core.memory.embedding import MODEL_NAME, Vector, from_blob, to_blob
from core.memory.policy import IMPORTANCE
from core.memory.tables import ACL, MEMORIES

# Columns a caller sees; the embedding stays inside the store.
PUBLIC = [c for c in MEMORIES.c if c.name != "embedding"]


class MissingSource(ValueError):
    """A memory without a source run and message: nothing is stored without a source."""


def public(row: Any) -> dict[str, Any]:
    """A memory row as plain data, without its embedding."""
    return {k: v for k, v in dict(row).items() if k != "embedding"}


def insert_memory(
    conn: Connection,
    *,
    tenant_id: str,
    user_id: str,
    scope: str,
    scope_ref: str,
    subject: str,
    memory_type: str,
    content: str,
    source_run_id: str,
    source_message: str,
    confidence: float,
    embedding: Vector,
    now: datetime,
    status: str = "active",
    expires_at: datetime | None = None,
    supersedes: str | None = None,
) -> dict[str, Any]:
    """Store a new memory with its ACL and index entries; returns the stored row."""
    if not source_run_id or not source_message:
        raise MissingSource("a memory needs its source run and message")
    row: dict[str, Any] = {
        "memory_id": new_id("mem"),
        "tenant_id": tenant_id,
        "user_id": user_id,
        "scope": scope,
        "scope_ref": scope_ref,
        "subject": subject,
        "type": memory_type,
        "content": content,
        "source_run_id": source_run_id,
        "source_message": source_message,
        "sources": [{"run_id": source_run_id, "message": source_message, "at": now.isoformat()}],
        "confidence": confidence,
        "importance": IMPORTANCE.get(memory_type, 0.5),
        "status": status,
        "visibility": "user_visible",
        "pinned": False,
        "supersedes": supersedes,
        "embedding": to_blob(embedding),
        "embedding_model": MODEL_NAME,
        "created_at": now,
        "updated_at": now,
        "expires_at": expires_at,
    }
    conn.execute(insert(MEMORIES).values(**row))
    conn.execute(
        insert(ACL),
        [
            {"memory_id": row["memory_id"], "principal": p, "tenant_id": tenant_id}
            for p in acl_for(scope, user_id, scope_ref)
        ],
    )
    index.add(conn, row["memory_id"], tenant_id, subject, content, embedding)
    return public(row)


def load(conn: Connection, memory_id: str) -> dict[str, Any] | None:
    """A memory row including its embedding (internal use only)."""
    row = conn.execute(select(MEMORIES).where(MEMORIES.c.memory_id == memory_id)).mappings()
    found = row.first()
    return dict(found) if found else None


def change(
    conn: Connection,
    memory: dict[str, Any],
    now: datetime,
    *,
    content: str | None = None,
    embedding: Vector | None = None,
    source: dict[str, Any] | None = None,
    **values: Any,
) -> dict[str, Any]:
    """Update a memory in place, re-indexing it when its content or subject changes."""
    updates: dict[str, Any] = dict(values, updated_at=now)
    if content is not None:
        updates["content"] = content
    if embedding is not None:
        updates["embedding"] = to_blob(embedding)
        updates["embedding_model"] = MODEL_NAME
    if source is not None:
        updates["sources"] = [*(memory.get("sources") or []), {**source, "at": now.isoformat()}]
    conn.execute(
        update(MEMORIES).where(MEMORIES.c.memory_id == memory["memory_id"]).values(**updates)
    )
    merged = {**memory, **updates}
    if content is not None or embedding is not None or "subject" in values:
        vector = embedding if embedding is not None else from_blob(merged["embedding"])
        index.add(
            conn,
            merged["memory_id"],
            merged["tenant_id"],
            merged["subject"],
            merged["content"],
            vector,
        )
    return public(merged)


def erase(conn: Connection, memory_id: str, purge_text: bool = True) -> bool:
    """Delete a memory from the table, its ACL and every index; True if it existed.

    On SQLite ``secure_delete`` overwrites the freed pages and the FTS segments are
    rewritten, so the text does not linger in the file after a user deletes it.
    """
    if conn.dialect.name == "sqlite":
        conn.execute(text("PRAGMA secure_delete = ON"))
    index.remove(conn, memory_id)
    conn.execute(delete(ACL).where(ACL.c.memory_id == memory_id))
    gone = conn.execute(delete(MEMORIES).where(MEMORIES.c.memory_id == memory_id)).rowcount
    if purge_text:
        index.purge_deleted_text(conn)
    return bool(gone)
