"""Database access for async tools: blocking SQLAlchemy work runs off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine, text

T = TypeVar("T")


def _in_transaction(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with engine.begin() as conn:
        return fn(conn)


def _reading(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with engine.connect() as conn:
        return fn(conn)


async def write(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """Run ``fn(conn)`` in one write transaction in a worker thread."""
    return await asyncio.to_thread(_in_transaction, engine, fn)


async def read(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """Run ``fn(conn)`` on a read connection in a worker thread."""
    return await asyncio.to_thread(_reading, engine, fn)


def lock_owner(conn: Connection, *parts: str) -> None:
    """Serialise writers of one owner's rows for the rest of the transaction.

    SQLite already has a single writer (``BEGIN IMMEDIATE``); Postgres gets a transaction-scoped
    advisory lock, so a check-then-insert (a calendar conflict check) cannot interleave.
    """
    if conn.dialect.name != "postgresql":
        return
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
