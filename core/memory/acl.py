"""Who may read a memory: principals of a caller, ACLs of a scope, and the SQL filter.

Every memory query starts from :func:`visible_ids`, a subquery of the ids the caller may see
(tenant, ACL principal, active, not expired). Ranking, full-text and vector search all run
*inside* that set, so an unauthorised row can never be a candidate (blueprint 4.9: authorise
before retrieval, not after).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, or_, select

from core.memory.tables import ACL, MEMORIES
from core.store.tables import User

USERS = User.__table__  # type: ignore[attr-defined]
SCOPES = ("user", "team", "tenant", "task")
TENANT_PRINCIPAL = "tenant"


def user_principal(user_id: str) -> str:
    """The principal naming one person."""
    return f"user:{user_id}"


def principals(
    conn: Connection, tenant_id: str, user_id: str, run_id: str | None = None
) -> list[str]:
    """Everything the caller may read as: themself, their tenant, their teams, the task.

    Teams come from the user's ``scopes`` entries of the form ``team:<name>``; task memories
    are readable only while working on that run.
    """
    found = [user_principal(user_id), TENANT_PRINCIPAL]
    scopes = conn.execute(_SCOPES, {"t": tenant_id, "u": user_id}).scalar_one_or_none()
    for scope in scopes or []:
        if isinstance(scope, str) and scope.startswith("team:") and len(scope) > 5:
            found.append(scope)
    if run_id:
        found.append(f"task:{run_id}")
    return found


def acl_for(scope: str, owner: str, scope_ref: str) -> list[str]:
    """The principals that may read a memory of ``scope`` (its owner always may, except for
    task memories, which stay inside their run)."""
    if scope == "user":
        return [user_principal(owner)]
    if scope == "team":
        return [f"team:{scope_ref}", user_principal(owner)]
    if scope == "tenant":
        return [TENANT_PRINCIPAL]
    if scope == "task":
        return [f"task:{scope_ref}"]
    raise ValueError(f"unknown scope {scope!r}")


# Built once: these run on every step's context assembly.
_SCOPES = select(USERS.c.scopes).where(
    USERS.c.tenant_id == bindparam("t"), USERS.c.user_id == bindparam("u")
)
_ANY_VISIBLE = (
    select(MEMORIES.c.memory_id)
    .where(
        MEMORIES.c.tenant_id == bindparam("t"),
        MEMORIES.c.status == "active",
        or_(MEMORIES.c.expires_at.is_(None), MEMORIES.c.expires_at > bindparam("now")),
        MEMORIES.c.memory_id.in_(
            select(ACL.c.memory_id).where(
                ACL.c.tenant_id == bindparam("t"),
                ACL.c.principal.in_(bindparam("p", expanding=True)),
            )
        ),
    )
    .limit(1)
)


def any_visible(conn: Connection, tenant_id: str, allowed: list[str], now: datetime) -> bool:
    """Whether the caller can read any memory at all (a cheap check before searching)."""
    found = conn.execute(_ANY_VISIBLE, {"t": tenant_id, "p": allowed, "now": now}).first()
    return found is not None


def visible_ids(tenant_id: str, allowed: list[str], now: datetime) -> Select[Any]:
    """Ids of the active, unexpired memories of the tenant readable by ``allowed``."""
    return select(MEMORIES.c.memory_id).where(
        MEMORIES.c.tenant_id == tenant_id,
        MEMORIES.c.status == "active",
        or_(MEMORIES.c.expires_at.is_(None), MEMORIES.c.expires_at > now),
        MEMORIES.c.memory_id.in_(
            select(ACL.c.memory_id).where(
                and_(ACL.c.tenant_id == tenant_id, ACL.c.principal.in_(allowed))
            )
        ),
    )
