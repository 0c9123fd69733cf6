"""Shared fixtures: a migrated store on SQLite and on Postgres for every test that asks."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.store.db import make_engine
from core.store.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_pg_reason: str | None = None


def postgres_available() -> str | None:
    """None when Postgres answers, else the reason it does not (printed with the skip)."""
    global _pg_reason
    if _pg_reason is None:
        try:
            eng = make_engine(POSTGRES_URL, pool_size=1)
            with eng.connect() as conn:
                conn.execute(text("select 1"))
            eng.dispose()
            _pg_reason = ""
        except Exception as exc:
            _pg_reason = f"no PostgreSQL reachable at {POSTGRES_URL}: {exc.__class__.__name__}"
    return _pg_reason or None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "baton.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()  # closing the last connection folds the WAL into the file we copy
    return path


def new_postgres_schema() -> str:
    """Create an empty schema and return a URL whose connections use it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"


def drop_postgres_schema(url: str) -> None:
    """Drop the schema created by :func:`new_postgres_schema`."""
    schema = url.rsplit("%3D", 1)[1]
    admin = make_engine(POSTGRES_URL, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: held bound but never listening, so no other
    process can take it while the test runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A URL of a freshly migrated database, once per engine."""
    if request.param == "sqlite":
        path = tmp_path / "baton.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    reason = postgres_available()
    if reason:
        print(f"\nSKIP postgres case: {reason}")
        pytest.skip(reason)
    url = new_postgres_schema()
    eng = make_engine(url, pool_size=1)
    upgrade(eng)
    eng.dispose()
    try:
        yield url
    finally:
        drop_postgres_schema(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a freshly migrated database (SQLite and Postgres)."""
    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()
