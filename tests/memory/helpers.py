"""Helpers for memory tests: seed memories straight into the store, run the pipeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert

from core.ids import utcnow
from core.memory import records
from core.memory.embedding import get_embedder
from core.store.tables import User

USERS = User.__table__  # type: ignore[attr-defined]


def seed(
    engine: Engine,
    tenant: str,
    user: str,
    content: str,
    *,
    scope: str = "user",
    scope_ref: str | None = None,
    subject: str | None = None,
    memory_type: str = "fact",
    expires_at: datetime | None = None,
    status: str = "active",
    confidence: float = 0.8,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store one memory with a real embedding and a made-up source run."""
    ref = scope_ref or {"user": user, "tenant": tenant, "task": "run_seed"}.get(scope, "")
    with engine.begin() as conn:
        return records.insert_memory(
            conn,
            tenant_id=tenant,
            user_id=user,
            scope=scope,
            scope_ref=ref,
            subject=subject or f"user:{user}",
            memory_type=memory_type,
            content=content,
            source_run_id="run_seed",
            source_message="goal:run_seed",
            confidence=confidence,
            embedding=get_embedder().embed_one(content),
            now=now or utcnow(),
            status=status,
            expires_at=expires_at,
        )


def add_user(engine: Engine, tenant: str, user: str, scopes: list[str]) -> None:
    """A user row carrying team memberships (``team:<name>`` scopes)."""
    from core.store.tables import Tenant

    tenants = Tenant.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        if not conn.execute(tenants.select().where(tenants.c.tenant_id == tenant)).first():
            conn.execute(insert(tenants).values(tenant_id=tenant, created_at=utcnow()))
        conn.execute(
            insert(USERS).values(tenant_id=tenant, user_id=user, scopes=scopes, created_at=utcnow())
        )
