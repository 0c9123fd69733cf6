"""Retrieval: the caller's ACL first, then relevance, recency, confidence and importance.

Candidates come from full-text search and from the embedding index, both restricted inside
their SQL to the ids the caller may read (:func:`core.memory.acl.visible_ids`). The final
score is a weighted sum; a memory whose relevance is below the threshold is never returned,
however recent or important, so packs only carry what bears on the request.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from core.config import Settings, get_settings
from core.ids import utcnow
from core.memory import index
from core.memory.acl import any_visible, principals, visible_ids
from core.memory.embedding import Vector, get_embedder
from core.memory.records import PUBLIC
from core.memory.tables import MEMORIES

# Relevance is meaning (embedding cosine) plus a bonus for wording (full-text rank relative to
# the best match). Weights and the default threshold were chosen on bench/memory_eval.py
# (a grid over both halves of its queries gave the same choice).
W_VECTOR, W_TEXT = 1.0, 0.2
# Final score: relevance dominates; the rest orders memories that are about equally relevant.
W_RELEVANCE, W_RECENCY, W_CONFIDENCE, W_IMPORTANCE = 0.70, 0.10, 0.10, 0.10
PIN_BONUS = 0.05
RECENCY_HALF_LIFE_DAYS = 30.0
_CANDIDATES = 25


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def recency(updated_at: datetime, now: datetime) -> float:
    """1.0 for a memory touched now, 0.5 after one half-life, towards 0 after."""
    age_days = max((now - _aware(updated_at)).total_seconds(), 0.0) / 86400.0
    return math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


def retrieve(
    conn: Connection,
    *,
    tenant_id: str,
    user_id: str,
    query: str,
    run_id: str | None = None,
    limit: int | None = None,
    min_relevance: float | None = None,
    now: datetime | None = None,
    query_vector: Vector | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """The memories the caller may read that best serve ``query``, best first.

    Each result carries the memory's fields plus ``relevance`` and ``score``.
    """
    settings = settings or get_settings()
    limit = settings.memory_context_limit if limit is None else limit
    threshold = settings.memory_min_relevance if min_relevance is None else min_relevance
    now = now or utcnow()
    if limit <= 0 or not query.strip():
        return []
    allowed = principals(conn, tenant_id, user_id, run_id)
    if not any_visible(conn, tenant_id, allowed, now):
        return []  # nothing readable: skip embedding the query and searching
    visible = visible_ids(tenant_id, allowed, now)
    qvec = query_vector if query_vector is not None else get_embedder().embed_query(query)
    by_vector = index.vector_scores(conn, visible, tenant_id, qvec, _CANDIDATES)
    by_text = index.text_scores(conn, visible, query, _CANDIDATES)
    ids = set(by_vector) | set(by_text)
    if not ids:
        return []
    rows = conn.execute(
        # The visible filter again: a candidate id alone never grants access.
        select(*PUBLIC).where(MEMORIES.c.memory_id.in_(ids), MEMORIES.c.memory_id.in_(visible))
    ).mappings()
    scored = []
    for row in rows:
        mid = row["memory_id"]
        relevance = W_VECTOR * max(by_vector.get(mid, 0.0), 0.0) + W_TEXT * by_text.get(mid, 0.0)
        if relevance < threshold:
            continue
        score = (
            W_RELEVANCE * relevance
            + W_RECENCY * recency(row["updated_at"], now)
            + W_CONFIDENCE * float(row["confidence"])
            + W_IMPORTANCE * float(row["importance"])
            + (PIN_BONUS if row["pinned"] else 0.0)
        )
        scored.append({**dict(row), "relevance": round(relevance, 4), "score": round(score, 4)})
    scored.sort(key=lambda m: (-m["score"], m["memory_id"]))
    return scored[:limit]


def search(
    engine: Engine,
    tenant_id: str,
    user_id: str,
    query: str,
    limit: int = 20,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """:func:`retrieve` on its own connection, for the API, the CLI and the web view."""
    with engine.connect() as conn:
        return retrieve(
            conn, tenant_id=tenant_id, user_id=user_id, query=query, run_id=run_id, limit=limit
        )
