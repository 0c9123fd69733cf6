"""The memory write pipeline: proposals in, validated and merged memories out (blueprint 4.8).

1. The step appends ``MemoryWriteProposed`` (the decision plus its source run and step).
   :func:`enqueue_proposals`, a transaction hook of the run log, copies it into
   ``memory_proposals`` in that same transaction, so a proposal is never lost or doubled.
2. :func:`process_proposals` (the worker calls it when idle) takes queued proposals and, per
   proposal in one transaction: validates, places (scope, subject, ACL), finds duplicates of
   the same subject and type by embedding similarity, then reinforces, updates or stores,
   holding behaviour-changing memories as ``pending`` until the user confirms them.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, insert, or_, select, text, update

from core.config import Settings, get_settings
from core.ids import new_id, utcnow
from core.memory import records
from core.memory.controls import purge_expired
from core.memory.embedding import Vector, from_blob, get_embedder
from core.memory.policy import (
    ProposalRejected,
    check_confidence,
    check_content,
    expiry,
    needs_confirmation,
    place,
)
from core.memory.tables import MEMORIES, PROPOSALS
from core.runs.log import EVENTS, RUNS, RunWriter
from core.tracing import run_span
from models.contract import ProposeMemoryDecision

log = logging.getLogger(__name__)
PROPOSAL_EVENT = "MemoryWriteProposed"
_MAX_ATTEMPTS = 3
_PURGE_EVERY_S = 60.0
_last_purge = -_PURGE_EVERY_S


def enqueue_proposals(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Run-log transaction hook: queue every ``MemoryWriteProposed`` event it appends."""
    rows = [
        {
            "proposal_id": new_id("mprop"),
            "tenant_id": e["tenant_id"],
            "user_id": e["user_id"],
            "run_id": e["run_id"],
            "seq": e["seq"],
            "data": e["data"] or {},
            "status": "queued",
            "attempts": 0,
            "created_at": e["created_at"],
        }
        for e in events
        if e["type"] == PROPOSAL_EVENT
    ]
    if rows:
        conn.execute(insert(PROPOSALS), rows)


def queued(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """Proposals waiting to be processed, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(PROPOSALS)
            .where(PROPOSALS.c.status == "queued")
            .order_by(PROPOSALS.c.created_at, PROPOSALS.c.seq)
            .limit(limit)
        ).mappings()
        return [dict(r) for r in rows]


def process_proposals(
    engine: Engine, limit: int = 50, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Process up to ``limit`` queued proposals; returns their outcomes.

    Safe to call from several workers at once: each proposal is claimed by a conditional
    update inside its own transaction, so exactly one worker stores it.
    """
    settings = settings or get_settings()
    _purge_now_and_then(engine)
    batch = queued(engine, limit)
    if not batch:
        return []
    texts = [str((p["data"] or {}).get("content") or "") for p in batch]
    vectors = get_embedder().embed(texts)
    outcomes = []
    for proposal, vector in zip(batch, vectors, strict=True):
        try:
            with (
                run_span("memory.write", str(proposal["run_id"])) as span,
                engine.begin() as conn,
            ):
                claimed = conn.execute(
                    update(PROPOSALS)
                    .where(
                        PROPOSALS.c.proposal_id == proposal["proposal_id"],
                        PROPOSALS.c.status == "queued",
                    )
                    .values(attempts=PROPOSALS.c.attempts + 1, status="processing")
                ).rowcount
                if claimed != 1:
                    continue
                outcome = _process(conn, proposal, vector, settings)
                span.set_attribute("baton.memory.outcome", str(outcome["outcome"]))
                _tell_the_run(conn, proposal, outcome)
                _finish(conn, proposal["proposal_id"], outcome)
            outcomes.append(outcome)
        except Exception as exc:
            log.exception("memory proposal %s failed", proposal["proposal_id"])
            outcomes.append(_retry_later(engine, proposal, exc))
    return outcomes


def _tell_the_run(conn: Connection, proposal: dict[str, Any], outcome: dict[str, Any]) -> None:
    """Append the outcome to the source run's log, so surfaces can show it or ask about it:
    ``MemoryConfirmationRequested`` (the web view and voice ask the person) or
    ``MemoryStored``."""
    if outcome["outcome"] not in ("stored", "merged", "pending"):
        return
    memory = conn.execute(
        select(MEMORIES.c.content, MEMORIES.c.type).where(
            MEMORIES.c.memory_id == outcome["memory_id"]
        )
    ).first()
    if memory is None:
        return
    data = {"memory_id": outcome["memory_id"], "type": memory.type, "content": memory.content}
    writer = RunWriter.open(conn, proposal["run_id"])
    if outcome["outcome"] == "pending":
        question = f"Should I remember this for next time: {memory.content.rstrip('.')}?"
        writer.emit("MemoryConfirmationRequested", {**data, "question": question})
    else:
        writer.emit("MemoryStored", {**data, "outcome": outcome["outcome"]})
    writer.flush()


def _purge_now_and_then(engine: Engine) -> None:
    """Retention: delete expired memories, at most once a minute per process."""
    global _last_purge
    if time.monotonic() - _last_purge < _PURGE_EVERY_S:
        return
    _last_purge = time.monotonic()
    with engine.connect() as conn:
        expired = conn.execute(
            select(MEMORIES.c.memory_id)
            .where(MEMORIES.c.expires_at.is_not(None), MEMORIES.c.expires_at <= utcnow())
            .limit(1)
        ).first()
    if expired is not None:
        purge_expired(engine)


def _finish(conn: Connection, proposal_id: str, outcome: dict[str, Any]) -> None:
    conn.execute(
        update(PROPOSALS)
        .where(PROPOSALS.c.proposal_id == proposal_id)
        .values(
            status="done",
            outcome=outcome["outcome"],
            memory_id=outcome.get("memory_id"),
            reason=outcome.get("reason"),
            processed_at=utcnow(),
        )
    )


def _retry_later(engine: Engine, proposal: dict[str, Any], exc: Exception) -> dict[str, Any]:
    attempts = int(proposal["attempts"]) + 1
    status = "failed" if attempts >= _MAX_ATTEMPTS else "queued"
    reason = f"{exc.__class__.__name__}: {exc}"[:500]
    with engine.begin() as conn:
        conn.execute(
            update(PROPOSALS)
            .where(PROPOSALS.c.proposal_id == proposal["proposal_id"])
            .values(status=status, attempts=attempts, reason=reason)
        )
    return {"proposal_id": proposal["proposal_id"], "outcome": "error", "reason": reason}


def _source_message(conn: Connection, run: dict[str, Any], seq: int) -> tuple[str, str]:
    """The user message a proposal came from: the last one before it, else the run's goal."""
    row = conn.execute(
        select(EVENTS.c.seq, EVENTS.c.data)
        .where(
            EVENTS.c.run_id == run["run_id"],
            EVENTS.c.type == "UserMessageReceived",
            EVENTS.c.seq < seq,
        )
        .order_by(EVENTS.c.seq.desc())
        .limit(1)
    ).first()
    if row is not None:
        return f"event:{run['run_id']}:{row.seq}", str((row.data or {}).get("text", ""))
    return f"goal:{run['run_id']}", str(run["goal"])


def _process(
    conn: Connection, proposal: dict[str, Any], vector: Vector, settings: Settings
) -> dict[str, Any]:
    base = {"proposal_id": proposal["proposal_id"], "run_id": proposal["run_id"]}
    data = dict(proposal["data"] or {})
    now = utcnow()
    try:
        source = data.get("source") or {}
        if not source.get("run_id"):
            raise ProposalRejected("no source run: nothing is stored without a source")
        run = (
            conn.execute(
                select(RUNS.c.run_id, RUNS.c.tenant_id, RUNS.c.user_id, RUNS.c.goal).where(
                    RUNS.c.run_id == source["run_id"],
                    RUNS.c.tenant_id == proposal["tenant_id"],
                    RUNS.c.user_id == proposal["user_id"],
                )
            )
            .mappings()
            .first()
        )
        if run is None:
            raise ProposalRejected("the source run is not this user's")
        fields = {k: data[k] for k in ProposeMemoryDecision.model_fields if k in data}
        decision = ProposeMemoryDecision.model_validate(fields)
        content = check_content(decision.content, settings)
        confidence = check_confidence(decision.confidence, settings)
        where = place(
            data.get("scope"), decision.subject, run["tenant_id"], run["user_id"], run["run_id"]
        )
    except (ProposalRejected, ValidationError) as exc:
        reason = str(exc) if isinstance(exc, ProposalRejected) else _first_error(exc)
        return {**base, "outcome": "rejected", "reason": reason}
    if conn.dialect.name == "postgresql":
        # Two workers merging proposals about the same subject must not both insert; SQLite
        # already serialises writers.
        key = f"{run['tenant_id']}\x1f{run['user_id']}\x1f{where.subject}"
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})
    message_ref, message_text = _source_message(conn, dict(run), int(proposal["seq"]))
    confirm = needs_confirmation(
        decision.memory_type,
        where.scope,
        decision.requires_user_confirmation,
        message_text,
        settings,
    )
    src = {"run_id": run["run_id"], "message": message_ref}
    match, similarity = _closest(conn, dict(run), where, decision, vector, now)
    if match is not None and similarity >= settings.memory_duplicate_similarity:
        # The same thing said again: more evidence, not a new memory.
        combined = 1.0 - (1.0 - float(match["confidence"])) * (1.0 - confidence)
        kept = records.change(
            conn, match, now, source=src, confidence=round(min(combined, 0.99), 4)
        )
        return {
            **base,
            "outcome": "duplicate",
            "memory_id": kept["memory_id"],
            "similarity": similarity,
        }
    if match is not None and similarity >= settings.memory_merge_similarity:
        if confirm and match["status"] == "active":
            # A behaviour change waits for a yes; the memory in use stays until then.
            new = records.insert_memory(
                conn,
                **_new_fields(
                    run, where, decision, content, confidence, vector, src, now, settings
                ),
                status="pending",
                supersedes=match["memory_id"],
            )
            return {
                **base,
                "outcome": "pending",
                "memory_id": new["memory_id"],
                "supersedes": match["memory_id"],
                "similarity": similarity,
            }
        merged = records.change(
            conn,
            match,
            now,
            content=content,
            embedding=vector,
            source=src,
            confidence=confidence,
        )
        return {
            **base,
            "outcome": "merged",
            "memory_id": merged["memory_id"],
            "similarity": similarity,
        }
    new = records.insert_memory(
        conn,
        **_new_fields(run, where, decision, content, confidence, vector, src, now, settings),
        status="pending" if confirm else "active",
    )
    return {**base, "outcome": "pending" if confirm else "stored", "memory_id": new["memory_id"]}


def _new_fields(
    run: Any,
    where: Any,
    decision: ProposeMemoryDecision,
    content: str,
    confidence: float,
    vector: Vector,
    src: dict[str, str],
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    return {
        "tenant_id": run["tenant_id"],
        "user_id": run["user_id"],
        "scope": where.scope,
        "scope_ref": where.scope_ref,
        "subject": where.subject,
        "memory_type": decision.memory_type,
        "content": content,
        "source_run_id": src["run_id"],
        "source_message": src["message"],
        "confidence": confidence,
        "embedding": vector,
        "now": now,
        "expires_at": expiry(decision.memory_type, where.scope, now, settings),
    }


def _closest(
    conn: Connection,
    run: dict[str, Any],
    where: Any,
    decision: ProposeMemoryDecision,
    vector: Vector,
    now: datetime,
) -> tuple[dict[str, Any] | None, float]:
    """The owner's most similar live memory with the same subject, type and scope."""
    rows = conn.execute(
        select(MEMORIES).where(
            MEMORIES.c.tenant_id == run["tenant_id"],
            MEMORIES.c.user_id == run["user_id"],
            or_(MEMORIES.c.expires_at.is_(None), MEMORIES.c.expires_at > now),
            MEMORIES.c.subject == where.subject,
            MEMORIES.c.type == decision.memory_type,
            MEMORIES.c.scope == where.scope,
            MEMORIES.c.scope_ref == where.scope_ref,
        )
    ).mappings()
    best: dict[str, Any] | None = None
    best_sim = -1.0
    for row in rows:
        if row["embedding"] is None:
            continue
        sim = float(from_blob(row["embedding"]) @ vector)
        if sim > best_sim:
            best, best_sim = dict(row), sim
    return best, best_sim


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid"))
