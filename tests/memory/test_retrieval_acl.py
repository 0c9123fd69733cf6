"""Retrieval applies the tenant/user ACL inside the query: the best match is never shown to a
person who may not read it; deleting a memory removes it from every index."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pysqlite3 import dbapi2 as sqlite_dbapi
from sqlalchemy import text

from core.ids import utcnow
from core.memory import index
from core.memory.acl import principals, visible_ids
from core.memory.controls import delete_memory
from core.memory.embedding import get_embedder
from core.memory.retrieval import retrieve
from tests.memory.helpers import add_user, seed

QUERY = "Which airline do I like to fly with?"
EXACT = "I like to fly with Lufthansa, that is my airline."


def _ids(engine, tenant, user, query=QUERY, run_id=None):
    with engine.connect() as conn:
        found = retrieve(
            conn,
            tenant_id=tenant,
            user_id=user,
            query=query,
            run_id=run_id,
            limit=50,
            min_relevance=0.0,
        )
    return [m["memory_id"] for m in found]


def test_unauthorised_best_match_is_never_retrieved(engine):
    add_user(engine, "t1", "alice", ["team:travel"])
    past = utcnow() - timedelta(days=1)
    own = seed(engine, "t1", "alice", "Alice usually books KLM for business trips.")
    team = seed(
        engine, "t1", "carol", "The travel team flies with SAS.", scope="team", scope_ref="travel"
    )
    tenant_wide = seed(
        engine, "t1", "carol", "Company policy: economy class on flights.", scope="tenant"
    )
    forbidden = {
        "other user": seed(engine, "t1", "bob", EXACT),
        "other tenant, same user id": seed(engine, "t2", "alice", EXACT),
        "expired": seed(engine, "t1", "alice", EXACT, expires_at=past),
        "awaiting confirmation": seed(engine, "t1", "alice", EXACT, status="pending"),
        "another team": seed(engine, "t1", "dave", EXACT, scope="team", scope_ref="finance"),
        "another run's task": seed(
            engine, "t1", "alice", EXACT, scope="task", scope_ref="run_other"
        ),
    }

    got = _ids(engine, "t1", "alice", run_id="run_current")

    for why, memory in forbidden.items():
        assert memory["memory_id"] not in got, why
    assert set(got) == {own["memory_id"], team["memory_id"], tenant_wide["memory_id"]}
    # The forbidden text really is the best match: its owner gets it first.
    assert _ids(engine, "t1", "bob")[0] == forbidden["other user"]["memory_id"]
    # A task memory is readable inside its own run only.
    in_run = _ids(engine, "t1", "alice", run_id="run_other")
    assert in_run[0] == forbidden["another run's task"]["memory_id"]


def test_each_index_is_filtered_inside_its_query(engine):
    """Full-text and vector search on their own never return an unauthorised id."""
    mine = seed(engine, "t1", "alice", "Alice likes window seats.")
    theirs = seed(engine, "t1", "bob", EXACT)
    qvec = get_embedder().embed_one(QUERY)
    with engine.connect() as conn:
        visible = visible_ids("t1", principals(conn, "t1", "alice"), utcnow())
        by_text = index.text_scores(conn, visible, "Lufthansa airline fly window", 10)
        by_vector = index.vector_scores(conn, visible, "t1", qvec, 10)
    assert theirs["memory_id"] not in by_text and theirs["memory_id"] not in by_vector
    assert mine["memory_id"] in by_vector


def test_delete_removes_memory_from_full_text_and_vector_indexes(engine, tmp_path: Path):
    marker = "Zanzibarquux"
    memory = seed(engine, "t1", "alice", f"My locker code word is {marker} at the gym.")
    keep = seed(engine, "t1", "alice", "Alice goes to the gym on Mondays.")
    qvec = get_embedder().embed_one(f"locker code word {marker}")
    with engine.connect() as conn:
        visible = visible_ids("t1", principals(conn, "t1", "alice"), utcnow())
        assert memory["memory_id"] in index.text_scores(conn, visible, marker, 10)
        assert memory["memory_id"] in index.vector_scores(conn, visible, "t1", qvec, 10)

    delete_memory(engine, "t1", "alice", memory["memory_id"])

    with engine.connect() as conn:
        where = index.indexed_ids(conn, memory["memory_id"])
        assert not any(where.values()), where
        visible = visible_ids("t1", principals(conn, "t1", "alice"), utcnow())
        assert index.text_scores(conn, visible, marker, 10) == {}
        assert memory["memory_id"] not in index.vector_scores(conn, visible, "t1", qvec, 10)
        if engine.dialect.name == "sqlite":
            # Straight at the index tables, without any ACL.
            hits = conn.execute(
                text("SELECT count(*) FROM memory_fts WHERE memory_fts MATCH :q"), {"q": marker}
            ).scalar_one()
            assert hits == 0
            near = (
                conn.execute(
                    text("SELECT memory_id FROM memory_vec WHERE embedding MATCH :v AND k = 10"),
                    {"v": qvec.astype("<f4").tobytes()},
                )
                .scalars()
                .all()
            )
            assert near == [keep["memory_id"]]
        else:
            hits = conn.execute(
                text("SELECT count(*) FROM memories WHERE content_tsv @@ to_tsquery(:q)"),
                {"q": marker.lower()},
            ).scalar_one()
            assert hits == 0
    if engine.dialect.name == "sqlite":
        # Nothing of the text is left in the database file once the WAL is folded in.
        engine.dispose()
        db_file = Path(engine.url.database or "")
        raw = sqlite_dbapi.connect(str(db_file))
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.close()
        assert marker.encode() not in db_file.read_bytes()
