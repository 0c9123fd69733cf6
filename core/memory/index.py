"""Full-text and vector indexes of memories, on SQLite and on Postgres.

SQLite: an FTS5 table (``memory_fts``, porter stemming, bm25) and a sqlite-vec table
(``memory_vec``, cosine KNN). Postgres: the generated ``content_tsv`` column with a GIN index
(``ts_rank_cd``) and, since pgvector is not available, the float32 ``embedding`` blob of each
row scored in numpy over the candidate set. Every search takes the caller's visible-id
subquery and applies it inside its own SQL.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from sqlalchemy import Connection, Select, column, func, literal_column, select, table, text

from core.memory.embedding import Vector, from_blob, to_blob
from core.memory.tables import MEMORIES

FTS = table("memory_fts", column("memory_id"), column("subject"), column("content"))
VEC = table(
    "memory_vec",
    column("memory_id"),
    column("tenant_id"),
    column("embedding"),
    column("distance"),
    column("k"),
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP_WORDS = (
    "a an and are as at be but by do does did for from has have how i if in into is it its me "
    "my of on or our so that the their them then there these they this to was we what when "
    "where which who why will with you your can could would should about any all tell know "
    "please"
)
_STOP = frozenset(_STOP_WORDS.split())


def _sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def query_terms(query: str, limit: int = 24) -> list[str]:
    """The searchable words of a query: lower-cased, without stop words or punctuation."""
    seen: list[str] = []
    for word in _WORD.findall(query.lower()):
        if word not in _STOP and word not in seen and len(word) > 1:
            seen.append(word)
    return seen[:limit]


def add(
    conn: Connection, memory_id: str, tenant_id: str, subject: str, content: str, embedding: Vector
) -> None:
    """Index a memory (replacing any earlier entry for the same id)."""
    if not _sqlite(conn):
        return  # the tsvector is generated and the embedding lives on the row
    remove(conn, memory_id)
    conn.execute(
        text("INSERT INTO memory_fts (memory_id, subject, content) VALUES (:m, :s, :c)"),
        {"m": memory_id, "s": subject, "c": content},
    )
    conn.execute(
        text("INSERT INTO memory_vec (memory_id, tenant_id, embedding) VALUES (:m, :t, :e)"),
        {"m": memory_id, "t": tenant_id, "e": to_blob(embedding)},
    )


def remove(conn: Connection, memory_id: str) -> None:
    """Drop a memory from every index (its row is deleted by the caller)."""
    if not _sqlite(conn):
        return
    conn.execute(text("DELETE FROM memory_fts WHERE memory_id = :m"), {"m": memory_id})
    conn.execute(text("DELETE FROM memory_vec WHERE memory_id = :m"), {"m": memory_id})


def purge_deleted_text(conn: Connection) -> None:
    """Rewrite the FTS5 segments so deleted terms are gone, not just marked deleted."""
    if _sqlite(conn):
        conn.execute(text("INSERT INTO memory_fts(memory_fts) VALUES ('optimize')"))


def text_scores(conn: Connection, visible: Select[Any], query: str, limit: int) -> dict[str, float]:
    """Full-text matches among ``visible`` ids, scored 0..1 relative to the best match."""
    terms = query_terms(query)
    if not terms:
        return {}
    if _sqlite(conn):
        match = " OR ".join(f'"{t}"' for t in terms)
        rank = func.bm25(literal_column("memory_fts"))
        stmt = (
            select(FTS.c.memory_id, rank.label("rank"))
            .where(literal_column("memory_fts").op("MATCH")(match))
            .where(FTS.c.memory_id.in_(visible))
            .order_by(rank)
            .limit(limit)
        )
        # bm25 is lower-is-better and negative; flip it so that higher is better.
        raw = {r.memory_id: -float(r.rank) for r in conn.execute(stmt)}
    else:
        tsquery = func.to_tsquery("english", " | ".join(terms))
        tsv: Any = literal_column("content_tsv")
        rank = func.ts_rank_cd(tsv, tsquery)
        stmt = (
            select(MEMORIES.c.memory_id, rank.label("rank"))
            .where(tsv.op("@@")(tsquery))
            .where(MEMORIES.c.memory_id.in_(visible))
            .order_by(rank.desc())
            .limit(limit)
        )
        raw = {r.memory_id: float(r.rank) for r in conn.execute(stmt)}
    best = max(raw.values(), default=0.0)
    if best <= 0:
        return {k: 0.0 for k in raw}
    return {k: max(v, 0.0) / best for k, v in raw.items()}


def vector_scores(
    conn: Connection, visible: Select[Any], tenant_id: str, query_vec: Vector, limit: int
) -> dict[str, float]:
    """Cosine similarity of the nearest ``visible`` memories to ``query_vec``."""
    if _sqlite(conn):
        stmt = (
            select(VEC.c.memory_id, VEC.c.distance)
            .where(VEC.c.embedding.op("MATCH")(to_blob(query_vec)))
            .where(VEC.c.k == limit)
            .where(VEC.c.tenant_id == tenant_id)
            .where(VEC.c.memory_id.in_(visible))
        )
        return {r.memory_id: 1.0 - float(r.distance) for r in conn.execute(stmt)}
    rows = conn.execute(
        select(MEMORIES.c.memory_id, MEMORIES.c.embedding).where(
            MEMORIES.c.memory_id.in_(visible), MEMORIES.c.embedding.is_not(None)
        )
    ).all()
    if not rows:
        return {}
    matrix = np.stack([from_blob(r.embedding) for r in rows])
    sims = matrix @ np.asarray(query_vec, dtype=np.float32)
    top = np.argsort(-sims)[:limit]
    return {rows[i].memory_id: float(sims[i]) for i in top}


def indexed_ids(conn: Connection, memory_id: str) -> dict[str, bool]:
    """Where a memory id is still present: for audits and the deletion tests."""
    found = {
        "row": conn.execute(
            select(func.count()).where(MEMORIES.c.memory_id == memory_id)
        ).scalar_one()
        > 0
    }
    if _sqlite(conn):
        for name in ("memory_fts", "memory_vec"):
            n = conn.execute(
                text(f"SELECT count(*) FROM {name} WHERE memory_id = :m"), {"m": memory_id}
            ).scalar_one()
            found[name] = n > 0
    return found
