"""Reads scoped to a tenant and user before any other filter (the rule every query follows)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select


def scoped_row(
    conn: Connection, table: Table, tenant_id: str, user_id: str, **match: Any
) -> dict[str, Any] | None:
    """The one row of ``table`` owned by this tenant and user whose columns equal ``match``."""
    row = (
        conn.execute(
            select(table).where(
                table.c.tenant_id == tenant_id,
                table.c.user_id == user_id,
                *(table.c[column] == value for column, value in match.items()),
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None
