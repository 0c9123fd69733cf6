"""Engines and transactions for SQLite (embedded default) and Postgres (scale path).

One code path serves both. On SQLite every write transaction starts with ``BEGIN IMMEDIATE``
so that several worker processes queue for the single writer instead of failing half-way
through a step with "database is locked".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the pragmas and pool settings Baton relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            module=_sqlite_dbapi(),
            poolclass=kwargs.pop("poolclass", None) or _sqlite_pool(),
            **kwargs,
        )
        _install_sqlite_hooks(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # Recycle rather than ping: a ping is one more round trip on every transaction of a step.
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(parsed, **kwargs)


def _sqlite_pool() -> Any:
    from sqlalchemy.pool import QueuePool

    return QueuePool


def _sqlite_dbapi() -> Any:
    """pysqlite3 (a recent SQLite that can load extensions), else the standard library's.

    The Python build on these machines cannot load extensions, and the memory index needs
    sqlite-vec loaded into every connection.
    """
    try:
        from pysqlite3 import dbapi2
    except ImportError:
        import sqlite3 as dbapi2
    return dbapi2


def _load_sqlite_extensions(dbapi_conn: Any) -> None:
    if not hasattr(dbapi_conn, "enable_load_extension"):
        return
    import sqlite_vec

    dbapi_conn.enable_load_extension(True)
    try:
        sqlite_vec.load(dbapi_conn)
    finally:
        dbapi_conn.enable_load_extension(False)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _load_sqlite_extensions(dbapi_conn)
        # Take transaction control from pysqlite so BEGIN IMMEDIATE below is what runs.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Readers (see ``reader``) take no write lock; everything else queues for the writer.
        read_only = conn.get_execution_options().get("baton_read", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite its transactions take no write lock."""
    return engine.execution_options(baton_read=True)


__all__ = ["NullPool", "is_sqlite", "make_engine", "reader"]
