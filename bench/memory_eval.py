"""Memory retrieval quality: precision@5 and recall@5 under the ACL.

Fixture (bench/memory_fixture.py): 221 memories of six people in two tenants (including the
same user id in both), two teams and two tenant-wide sets; 69 queries phrased differently from
the memories that answer them, plus 5 questions with no readable answer. Each query runs
through the production path (``core.memory.retrieval.retrieve``, default settings) as the
asking user. Figures:

- precision_at_5: relevant among what was returned (at most 5; the relevance threshold may
  return fewer), averaged over queries, an empty answer counting 0.
- precision_at_5_over_k: relevant in the top 5 divided by 5 (the textbook form; with 1-3
  relevant memories per query its ceiling is ``ideal_precision_at_5_over_k``).
- recall_at_5: relevant found in the top 5 over all relevant, averaged.
- leaks: memories returned that the asker may not read (must be 0).
- no_answer_returned_mean: memories returned for questions that have no readable answer.

The same queries also run with only the vector part and only the full-text part of relevance
to show what each contributes. ``--postgres`` runs the queries against PostgreSQL as well.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from memory_fixture import NO_ANSWER, QUERIES, TEAMS, memories  # noqa: E402

PG_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def readable(mem: tuple[str, ...], tenant: str, user: str) -> bool:
    """The fixture's own statement of who may read what (independent of the store's ACL)."""
    _key, m_tenant, owner, scope, scope_ref, _t, _c = mem
    if m_tenant != tenant:
        return False
    if scope == "user":
        return owner == user
    if scope == "team":
        return f"team:{scope_ref}" in TEAMS.get((tenant, user), []) or owner == user
    return scope == "tenant"


def seed(engine: Any) -> dict[str, str]:
    """Store the fixture; returns memory id -> fixture key."""
    from sqlalchemy import insert

    from core.ids import utcnow
    from core.memory import records
    from core.memory.embedding import get_embedder
    from core.store.tables import Tenant, User

    rows = memories()
    vectors = get_embedder().embed([r[6] for r in rows])
    now = utcnow()
    ids: dict[str, str] = {}
    with engine.begin() as conn:
        for tenant in sorted({t for t, _ in TEAMS}):
            conn.execute(insert(Tenant.__table__).values(tenant_id=tenant, created_at=now))  # type: ignore[attr-defined]
        for (tenant, user), teams in TEAMS.items():
            conn.execute(
                insert(User.__table__).values(  # type: ignore[attr-defined]
                    tenant_id=tenant, user_id=user, scopes=teams, created_at=now
                )
            )
        for (key, tenant, owner, scope, scope_ref, mtype, content), vec in zip(
            rows, vectors, strict=True
        ):
            stored = records.insert_memory(
                conn,
                tenant_id=tenant,
                user_id=owner,
                scope=scope,
                scope_ref=scope_ref,
                subject=f"user:{owner}" if scope == "user" else f"{scope}:{scope_ref}",
                memory_type=mtype,
                content=content,
                source_run_id="run_fixture",
                source_message=f"fixture:{key}",
                confidence=0.8,
                embedding=vec,
                now=now,
            )
            ids[stored["memory_id"]] = key
    return ids


def evaluate(engine: Any, ids: dict[str, str], label: str) -> dict[str, float]:
    """Run every query; returns the figures for this configuration."""
    from core.memory.retrieval import retrieve

    by_key = {m[0]: m for m in memories()}
    precisions, over_k, recalls, ideal, rr, latencies = [], [], [], [], [], []
    leaks = 0
    with engine.connect() as conn:
        for tenant, user, query, relevant in QUERIES:
            t0 = time.perf_counter()
            found = retrieve(conn, tenant_id=tenant, user_id=user, query=query, limit=5)
            latencies.append((time.perf_counter() - t0) * 1000)
            keys = [ids[m["memory_id"]] for m in found]
            leaks += sum(1 for k in keys if not readable(by_key[k], tenant, user))
            hits = [k for k in keys if k in relevant]
            precisions.append(len(hits) / len(keys) if keys else 0.0)
            over_k.append(len(hits) / 5)
            ideal.append(min(len(relevant), 5) / 5)
            recalls.append(len(hits) / len(relevant))
            first = next((i for i, k in enumerate(keys) if k in relevant), None)
            rr.append(1.0 / (first + 1) if first is not None else 0.0)
        noise = []
        for tenant, user, query in NO_ANSWER:
            found = retrieve(conn, tenant_id=tenant, user_id=user, query=query, limit=5)
            keys = [ids[m["memory_id"]] for m in found]
            leaks += sum(1 for k in keys if not readable(by_key[k], tenant, user))
            noise.append(len(keys))
    latencies.sort()
    return {
        f"{label}precision_at_5": statistics.mean(precisions),
        f"{label}precision_at_5_over_k": statistics.mean(over_k),
        f"{label}recall_at_5": statistics.mean(recalls),
        f"{label}mrr": statistics.mean(rr),
        f"{label}ideal_precision_at_5_over_k": statistics.mean(ideal),
        f"{label}leaks": float(leaks),
        f"{label}no_answer_returned_mean": statistics.mean(noise),
        f"{label}retrieve_p50_ms": latencies[len(latencies) // 2],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    ap.add_argument("--ablation", action="store_true", help="also vector-only and text-only")
    args = ap.parse_args()

    from core.memory import retrieval
    from core.store.db import make_engine
    from core.store.migrate import upgrade

    say = lambda s: print(s, file=sys.stderr)  # noqa: E731
    figures: dict[str, float] = {
        "memories": float(len(memories())),
        "queries": float(len(QUERIES)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/eval.db")
        upgrade(engine)
        t0 = time.perf_counter()
        ids = seed(engine)
        figures["seed_s"] = time.perf_counter() - t0
        figures.update(evaluate(engine, ids, ""))
        if args.ablation:
            weights = retrieval.W_VECTOR, retrieval.W_TEXT
            try:
                retrieval.W_VECTOR, retrieval.W_TEXT = 1.0, 0.0
                figures.update(evaluate(engine, ids, "vector_only_"))
                retrieval.W_VECTOR, retrieval.W_TEXT = 0.0, 1.0
                figures.update(evaluate(engine, ids, "text_only_"))
            finally:
                retrieval.W_VECTOR, retrieval.W_TEXT = weights
        engine.dispose()
    if args.postgres:
        from sqlalchemy import text

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(PG_URL, pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            sep = "&" if "?" in PG_URL else "?"
            engine = make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
            upgrade(engine)
            ids = seed(engine)
            figures.update(evaluate(engine, ids, "postgres_"))
            engine.dispose()
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
    for k, v in figures.items():
        say(f"{k:<44} {v:10.3f}")
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
