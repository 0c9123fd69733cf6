"""Creating and reading artifacts, scoped to a tenant and user, recorded in the run's log.

An artifact row and its ``ArtifactCreated`` event are written in one transaction, so whatever
reacts to the event (the push outbox) sees exactly the artifacts that exist. The blob is written
first: a crash in between leaves an unreferenced, content-addressed file, never a row without
bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from core.artifacts.blobs import BlobStore, blob_key, blob_store_for
from core.config import Settings, get_settings
from core.errors import Conflict, InvalidInput, NotFound, TooLarge
from core.ids import new_id, utcnow
from core.runs.log import RunWriter
from core.store.scoped import scoped_row
from core.store.tables import Artifact

ARTIFACTS = Artifact.__table__  # type: ignore[attr-defined]
KINDS = frozenset({"report", "table", "draft", "transcript", "summary", "file"})
_CONTENT_TYPE = re.compile(
    r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}"
    r"(;\s*charset=[a-z0-9_-]{1,30})?$"
)
# Fields whose equality makes a replay "the same request" for an idempotency key.
_SAME = ("run_id", "name", "kind", "content_type", "checksum")


class ArtifactCorrupted(Exception):
    """The stored bytes no longer match the recorded checksum."""


@contextmanager
def _transaction(engine_or_conn: Engine | Connection) -> Iterator[Connection]:
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            yield conn
    elif engine_or_conn.in_transaction():
        yield engine_or_conn
    else:
        with engine_or_conn.begin():
            yield engine_or_conn


@contextmanager
def _reading(engine_or_conn: Engine | Connection) -> Iterator[Connection]:
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            yield conn
    else:
        yield engine_or_conn


def _validate(name: str, content_type: str, kind: str, data: bytes, limit: int) -> str:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput("artifact data must be bytes")
    if not name or not name.strip() or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InvalidInput("artifact name must be 1 to 200 printable characters")
    ctype = (content_type or "").strip().lower()
    if len(ctype) > 100 or not _CONTENT_TYPE.match(ctype):
        raise InvalidInput(f"'{content_type}' is not a valid content type (like text/markdown)")
    if kind not in KINDS:
        raise InvalidInput(f"unknown artifact kind '{kind}'; known: {', '.join(sorted(KINDS))}")
    if len(data) == 0:
        raise InvalidInput("artifact is empty")
    if len(data) > limit:
        raise TooLarge(
            f"artifact is {len(data)} bytes; the limit is {limit} bytes (BATON_ARTIFACT_MAX_BYTES)"
        )
    return ctype


def create_artifact(
    engine_or_conn: Engine | Connection,
    *,
    tenant_id: str,
    user_id: str,
    run_id: str | None,
    name: str,
    content_type: str,
    data: bytes,
    kind: str = "report",
    idempotency_key: str,
    writer: RunWriter | None = None,
    settings: Settings | None = None,
    blobs: BlobStore | None = None,
) -> dict[str, Any]:
    """Store an artifact and, for a run's artifact, append ``ArtifactCreated`` to the run.

    The same idempotency key with the same content returns the stored artifact and appends
    nothing; with different content it is a Conflict. Pass ``writer`` when the caller already
    holds a :class:`RunWriter` for the run in its transaction (a worker inside a step): the
    event is then added to that writer and written when the caller flushes it.
    """
    settings = settings or get_settings()
    if not idempotency_key or len(idempotency_key) > 200:
        raise InvalidInput("an artifact needs an idempotency key of 1 to 200 characters")
    ctype = _validate(name, content_type, kind, data, settings.artifact_max_bytes)
    data = bytes(data)
    checksum = hashlib.sha256(data).hexdigest()
    key = blob_key(tenant_id, checksum)
    (blobs or blob_store_for(settings)).put(key, data)
    row = {
        "artifact_id": new_id("art"),
        "run_id": run_id,
        "tenant_id": tenant_id,
        "user_id": user_id,
        "name": name.strip(),
        "kind": kind,
        "content_type": ctype,
        "size_bytes": len(data),
        "checksum": checksum,
        "storage_key": key,
        "idempotency_key": idempotency_key,
        "created_at": utcnow(),
    }
    source: Engine | Connection = writer.conn if writer is not None else engine_or_conn
    with _transaction(source) as conn:
        own_writer = None
        if run_id is not None:
            if writer is not None:
                if writer.view.get("run_id") != run_id:
                    raise InvalidInput("the writer given belongs to another run")
                run_owner = (writer.view.get("tenant_id"), writer.view.get("user_id"))
            else:
                # Locking the run first serialises artifact creation per run on Postgres.
                own_writer = RunWriter.open(conn, run_id)
                run_owner = (own_writer.row["tenant_id"], own_writer.row["user_id"])
            if run_owner != (tenant_id, user_id):
                raise NotFound(f"no run '{run_id}'")
        existing = _by_key(conn, tenant_id, user_id, idempotency_key)
        if existing is not None:
            return _same(existing, row)
        try:
            with conn.begin_nested():
                conn.execute(insert(ARTIFACTS).values(**row))
        except IntegrityError:
            # Another transaction took the key first (possible only for run-less artifacts).
            existing = _by_key(conn, tenant_id, user_id, idempotency_key)
            if existing is None:
                raise
            return _same(existing, row)
        if run_id is not None:
            target = writer or own_writer
            assert target is not None
            target.emit(
                "ArtifactCreated",
                {
                    "artifact_id": row["artifact_id"],
                    "name": row["name"],
                    "kind": kind,
                    "content_type": ctype,
                    "size_bytes": len(data),
                    "checksum": checksum,
                },
            )
            if own_writer is not None:
                own_writer.flush()
    return row


def _by_key(conn: Connection, tenant_id: str, user_id: str, key: str) -> dict[str, Any] | None:
    found = (
        conn.execute(
            select(ARTIFACTS).where(
                ARTIFACTS.c.tenant_id == tenant_id,
                ARTIFACTS.c.user_id == user_id,
                ARTIFACTS.c.idempotency_key == key,
            )
        )
        .mappings()
        .first()
    )
    return dict(found) if found else None


def _same(existing: dict[str, Any], asked: dict[str, Any]) -> dict[str, Any]:
    if any(existing[f] != asked[f] for f in _SAME):
        raise Conflict("this artifact idempotency key was used for different content")
    return existing


def get_artifact(
    engine_or_conn: Engine | Connection, *, tenant_id: str, user_id: str, artifact_id: str
) -> dict[str, Any]:
    """The artifact's metadata; NotFound unless it belongs to this tenant and user."""
    with _reading(engine_or_conn) as conn:
        found = scoped_row(conn, ARTIFACTS, tenant_id, user_id, artifact_id=artifact_id)
    if found is None:
        raise NotFound(f"no artifact '{artifact_id}'")
    return found


def list_artifacts(
    engine_or_conn: Engine | Connection, *, tenant_id: str, user_id: str, run_id: str
) -> list[dict[str, Any]]:
    """The run's artifacts, oldest first (empty for another tenant's run)."""
    with _reading(engine_or_conn) as conn:
        rows = conn.execute(
            select(ARTIFACTS)
            .where(
                ARTIFACTS.c.tenant_id == tenant_id,
                ARTIFACTS.c.user_id == user_id,
                ARTIFACTS.c.run_id == run_id,
            )
            .order_by(ARTIFACTS.c.created_at, ARTIFACTS.c.artifact_id)
        ).mappings()
        return [dict(r) for r in rows]


def read_artifact_data(
    engine_or_conn: Engine | Connection,
    *,
    tenant_id: str,
    user_id: str,
    artifact_id: str,
    settings: Settings | None = None,
    blobs: BlobStore | None = None,
) -> tuple[dict[str, Any], bytes]:
    """The artifact's metadata and bytes, checked against the stored checksum."""
    meta = get_artifact(
        engine_or_conn, tenant_id=tenant_id, user_id=user_id, artifact_id=artifact_id
    )
    data = (blobs or blob_store_for(settings or get_settings())).get(meta["storage_key"])
    if hashlib.sha256(data).hexdigest() != meta["checksum"]:
        raise ArtifactCorrupted(f"artifact '{artifact_id}' does not match its checksum")
    return meta, data
