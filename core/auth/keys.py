"""API keys: created for a tenant and user, stored only as a SHA-256 of their secret.

A key reads ``bk_<key id>_<secret>``. The secret carries 256 random bits, so a fast hash is
enough (there is nothing to brute-force, unlike a password); lookups go by key id and the
comparison is constant-time.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from core.errors import InvalidInput
from core.ids import sha256_hex, utcnow
from core.store.tables import ApiKey, Tenant, User

KEYS = ApiKey.__table__  # type: ignore[attr-defined]
TENANTS = Tenant.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
KEY = re.compile(r"^bk_([0-9a-f]{16})_([0-9A-Za-z_-]{20,100})$")


@dataclass(frozen=True)
class Identity:
    """Who is calling: every query is scoped by these two."""

    tenant_id: str
    user_id: str
    scopes: frozenset[str] | None = None


def check_name(kind: str, value: str) -> str:
    """Validate a tenant or user name (letters, digits, . _ @ + -; at most 64)."""
    if not NAME.match(value or ""):
        raise InvalidInput(f"{kind} must be 1-64 letters, digits or . _ @ + - (got {value!r})")
    return value


def ensure_user(
    conn: Connection, tenant_id: str, user_id: str, scopes: Sequence[str] | None = None
) -> None:
    """Create the tenant and the user if they do not exist yet; ``scopes``, when given,
    becomes the user's scope list (it applies to all their keys; an empty list grants none)."""
    now = utcnow()
    if (
        conn.execute(select(TENANTS.c.tenant_id).where(TENANTS.c.tenant_id == tenant_id)).first()
        is None
    ):
        try:
            with conn.begin_nested():
                conn.execute(TENANTS.insert().values(tenant_id=tenant_id, created_at=now))
        except IntegrityError:
            pass  # created concurrently
    exists = conn.execute(
        select(USERS.c.user_id).where(USERS.c.tenant_id == tenant_id, USERS.c.user_id == user_id)
    ).first()
    if exists is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    USERS.insert().values(tenant_id=tenant_id, user_id=user_id, created_at=now)
                )
        except IntegrityError:
            pass
    if scopes is not None:
        conn.execute(
            USERS.update()
            .where(USERS.c.tenant_id == tenant_id, USERS.c.user_id == user_id)
            .values(scopes=sorted(set(scopes)))
        )


def create_key(
    engine: Engine, tenant_id: str, user_id: str, scopes: Sequence[str] | None = None
) -> str:
    """Create the tenant/user if needed and return a new API key (shown once).

    ``scopes``, when given, becomes the user's scope list (it applies to all their keys).
    """
    check_name("tenant", tenant_id)
    check_name("user", user_id)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        ensure_user(conn, tenant_id, user_id, scopes)
        conn.execute(
            KEYS.insert().values(
                key_id=key_id,
                tenant_id=tenant_id,
                user_id=user_id,
                secret_hash=sha256_hex(secret),
                created_at=utcnow(),
            )
        )
    return f"bk_{key_id}_{secret}"


def verify_key(engine: Engine, key: str) -> Identity | None:
    """The identity behind a key, or None when it is unknown, malformed or revoked."""
    m = KEY.match(key or "")
    if m is None:
        return None
    key_id, secret = m.groups()
    with engine.connect() as conn:
        row = conn.execute(
            select(KEYS.c.tenant_id, KEYS.c.user_id, KEYS.c.secret_hash, KEYS.c.revoked_at).where(
                KEYS.c.key_id == key_id
            )
        ).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_hash, sha256_hex(secret)):
            return None
        scopes = conn.execute(
            select(USERS.c.scopes).where(
                USERS.c.tenant_id == row.tenant_id, USERS.c.user_id == row.user_id
            )
        ).scalar()
    return Identity(row.tenant_id, row.user_id, frozenset(scopes) if scopes is not None else None)


def revoke_key(engine: Engine, tenant_id: str, key_id: str) -> bool:
    """Revoke a key of this tenant; False when there is no such key."""
    with engine.begin() as conn:
        done = conn.execute(
            KEYS.update()
            .where(
                KEYS.c.tenant_id == tenant_id, KEYS.c.key_id == key_id, KEYS.c.revoked_at.is_(None)
            )
            .values(revoked_at=utcnow())
        )
        return done.rowcount == 1


def key_active(engine: Engine, tenant_id: str, user_id: str, key_id: str) -> bool:
    """Whether this user's key ``key_id`` exists and is not revoked (a session made from a
    key dies with it)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(KEYS.c.revoked_at).where(
                KEYS.c.key_id == key_id, KEYS.c.tenant_id == tenant_id, KEYS.c.user_id == user_id
            )
        ).first()
    return row is not None and row.revoked_at is None


def user_scopes(engine: Engine, tenant_id: str, user_id: str) -> set[str] | None:
    """The user's permission scopes; None (no list) means every scope."""
    with engine.connect() as conn:
        scopes = conn.execute(
            select(USERS.c.scopes).where(USERS.c.tenant_id == tenant_id, USERS.c.user_id == user_id)
        ).scalar()
    return set(scopes) if scopes is not None else None
