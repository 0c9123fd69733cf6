"""Artifacts: stored with metadata and checksum, scoped, idempotent, logged on the run."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from core.artifacts.blobs import FileBlobStore
from core.artifacts.service import (
    ArtifactCorrupted,
    create_artifact,
    get_artifact,
    list_artifacts,
    read_artifact_data,
)
from core.errors import Conflict, InvalidInput, NotFound, TooLarge
from core.runs.log import EVENTS, RunWriter
from core.runs.service import RunStore

REPORT = b"# Flights\n\n| city | price |\n|---|---|\n| Oslo | 120 |\n"


def _events(engine, run_id, kind="ArtifactCreated"):
    with engine.connect() as conn:
        rows = conn.execute(
            select(EVENTS.c.data)
            .where(EVENTS.c.run_id == run_id, EVENTS.c.type == kind)
            .order_by(EVENTS.c.seq)
        )
        return [r[0] for r in rows]


def _make(engine, settings, run_id, key="k1", data=REPORT, **kw):
    args = dict(
        tenant_id="acme", user_id="ann", run_id=run_id, name="Flights", kind="report",
        content_type="text/markdown", data=data, idempotency_key=key, settings=settings,
    )  # fmt: skip
    args.update(kw)
    return create_artifact(engine, **args)


def test_artifact_is_stored_with_metadata_and_logged_on_its_run(engine, settings):
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    art = _make(engine, settings, run["run_id"])
    assert art["size_bytes"] == len(REPORT)
    assert art["checksum"] == hashlib.sha256(REPORT).hexdigest()
    assert (art["tenant_id"], art["user_id"], art["run_id"]) == ("acme", "ann", run["run_id"])
    meta, data = read_artifact_data(
        engine, tenant_id="acme", user_id="ann", artifact_id=art["artifact_id"], settings=settings
    )
    assert data == REPORT and meta["content_type"] == "text/markdown"
    assert (settings.data_dir / "blobs" / art["storage_key"]).read_bytes() == REPORT
    (event,) = _events(engine, run["run_id"])
    assert event["artifact_id"] == art["artifact_id"] and event["size_bytes"] == len(REPORT)
    listed = list_artifacts(engine, tenant_id="acme", user_id="ann", run_id=run["run_id"])
    assert [a["artifact_id"] for a in listed] == [art["artifact_id"]]


def test_same_key_returns_the_same_artifact_and_logs_once(engine, settings):
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    first = _make(engine, settings, run["run_id"])
    again = _make(engine, settings, run["run_id"])
    assert again["artifact_id"] == first["artifact_id"]
    assert len(_events(engine, run["run_id"])) == 1
    with pytest.raises(Conflict, match="different content"):
        _make(engine, settings, run["run_id"], data=b"other bytes")
    assert len(_events(engine, run["run_id"])) == 1


def test_artifacts_are_scoped_to_their_tenant_and_user(engine, settings):
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    art = _make(engine, settings, run["run_id"])
    for tenant, user in (("other", "ann"), ("acme", "bob")):
        with pytest.raises(NotFound):
            get_artifact(engine, tenant_id=tenant, user_id=user, artifact_id=art["artifact_id"])
        assert list_artifacts(engine, tenant_id=tenant, user_id=user, run_id=run["run_id"]) == []
    # Nobody can attach an artifact to someone else's run.
    with pytest.raises(NotFound):
        _make(engine, settings, run["run_id"], key="k2", tenant_id="other")


def test_bad_artifacts_are_refused_with_a_reason_and_nothing_is_stored(engine, settings):
    run = RunStore(engine, settings.model_copy(update={"artifact_max_bytes": 100}))
    run_id = run.create_run("acme", "ann", "x")["run_id"]
    small = settings.model_copy(update={"artifact_max_bytes": 100})
    with pytest.raises(TooLarge, match="101 bytes; the limit is 100 bytes"):
        _make(engine, small, run_id, data=b"x" * 101)
    with pytest.raises(InvalidInput, match="not a valid content type"):
        _make(engine, settings, run_id, content_type="markdown")
    with pytest.raises(InvalidInput, match="unknown artifact kind"):
        _make(engine, settings, run_id, kind="virus")
    with pytest.raises(InvalidInput, match="empty"):
        _make(engine, settings, run_id, data=b"")
    with pytest.raises(InvalidInput, match="name"):
        _make(engine, settings, run_id, name="")
    with pytest.raises(InvalidInput, match="idempotency key"):
        _make(engine, settings, run_id, key="")
    assert list_artifacts(engine, tenant_id="acme", user_id="ann", run_id=run_id) == []
    assert _events(engine, run_id) == []
    assert not (settings.data_dir / "blobs").exists()


def test_a_worker_adds_the_event_to_its_own_writer(engine, settings):
    """Inside a step the worker's RunWriter carries the event, so sequence numbers stay gapless."""
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    with engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])
        w.emit("RunMetaChanged", {"meta": {"note": "before"}})
        art = create_artifact(
            engine, tenant_id="acme", user_id="ann", run_id=run["run_id"], name="Notes",
            content_type="text/plain", data=b"hello", idempotency_key="k", writer=w,
            settings=settings,
        )  # fmt: skip
        w.flush()
    with engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(
            select(EVENTS.c.seq).where(EVENTS.c.run_id == run["run_id"]).order_by(EVENTS.c.seq)
        )]  # fmt: skip
    assert seqs == list(range(1, len(seqs) + 1))
    assert _events(engine, run["run_id"])[0]["artifact_id"] == art["artifact_id"]


def test_a_corrupted_blob_is_detected(engine, settings):
    run = RunStore(engine, settings).create_run("acme", "ann", "x")
    art = _make(engine, settings, run["run_id"])
    (settings.data_dir / "blobs" / art["storage_key"]).write_bytes(b"changed on disk")
    with pytest.raises(ArtifactCorrupted):
        read_artifact_data(
            engine, tenant_id="acme", user_id="ann", artifact_id=art["artifact_id"],
            settings=settings,
        )  # fmt: skip


def test_blob_keys_cannot_escape_the_blob_directory(tmp_path):
    store = FileBlobStore(tmp_path / "blobs")
    for key in ("../etc/passwd", "tenant/../../x", "/abs"):
        with pytest.raises(ValueError):
            store.put(key, b"x")
    store.put("tenant/acme/sha256/ab/abc", b"data")
    store.put("tenant/acme/sha256/ab/abc", b"data")  # idempotent
    assert store.get("tenant/acme/sha256/ab/abc") == b"data"
    assert [p.name for p in (tmp_path / "blobs/tenant/acme/sha256/ab").iterdir()] == ["abc"]
