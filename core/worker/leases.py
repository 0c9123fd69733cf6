"""Run leases: claim, renew, release, take over after expiry.

Postgres claims with ``SELECT ... FOR UPDATE SKIP LOCKED`` so workers never wait on each
other; SQLite serialises claims through its single writer (``BEGIN IMMEDIATE``), which is
correct across processes. A lease carries a random token; every write of a step is fenced by
it, so a worker that lost its lease cannot write anything.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select, update

from core.ids import utcnow
from core.metrics.runs import run_claimed
from core.runs.log import RUNS, RunWriter
from core.runs.states import IN_FLIGHT, RunStatus
from core.store.db import reader

CLAIMABLE = [RunStatus.QUEUED.value, *(s.value for s in IN_FLIGHT)]


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one run."""

    run_id: str
    token: str
    owner: str
    took_over: bool


def claim(engine: Engine, owner: str, ttl_s: float, run_id: str | None = None) -> Lease | None:
    """Lease the oldest runnable run (queued, or in flight under an expired lease), leaving
    a run with a deferred tool call alone until its ``not_before``.

    With ``run_id``, lease that run only if it is runnable (a change announced to this
    process: a caller waits for it).
    """
    now = utcnow()
    stmt = (
        select(
            RUNS.c.run_id,
            RUNS.c.status,
            RUNS.c.lease_owner,
            RUNS.c.updated_at,
            RUNS.c.not_before,
            RUNS.c.lease_expires_at,
        )
        .where(
            *_runnable(now),
            *([RUNS.c.run_id == run_id] if run_id is not None else []),
        )
        .order_by(RUNS.c.updated_at)
        .limit(1)
    )
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=RUNS)
        row = conn.execute(stmt).first()
        if row is None:
            return None
        token = secrets.token_hex(12)
        writer = RunWriter.open(conn, row.run_id)
        took_over = row.status != RunStatus.QUEUED.value
        if took_over:
            writer.emit("LeaseTakenOver", {"previous_owner": row.lease_owner, "owner": owner})
        writer.set_lease(owner, token, now + timedelta(seconds=ttl_s))
        writer.flush()
        run_claimed(_runnable_since(row.updated_at, row.not_before, row.lease_expires_at), now)
        return Lease(row.run_id, token, owner, took_over)


def _runnable_since(*moments: datetime | None) -> datetime:
    """When a claimed run became runnable: its last change, the end of a deferral or of the
    previous lease, whichever came last (SQLite returns times without a zone: UTC)."""
    return max(m if m.tzinfo is not None else m.replace(tzinfo=UTC) for m in moments if m)


def _runnable(now: datetime) -> tuple[Any, ...]:
    """Where a claimable run is: queued or in flight, under no live lease, not deferred."""
    return (
        RUNS.c.status.in_(CLAIMABLE),
        or_(RUNS.c.lease_expires_at.is_(None), RUNS.c.lease_expires_at < now),
        # A run whose tool call was deferred waits until the time the gate named.
        or_(RUNS.c.not_before.is_(None), RUNS.c.not_before <= now),
    )


def runnable_exists(engine: Engine) -> bool:
    """Whether some run could be claimed now: a read that takes no write lock (SQLite)."""
    stmt = select(RUNS.c.run_id).where(*_runnable(utcnow())).limit(1)
    with reader(engine).connect() as conn:
        return conn.execute(stmt).first() is not None


def next_takeover_at(engine: Engine) -> datetime | None:
    """When the earliest lease on a runnable run expires (a crashed worker's run is free then)."""
    stmt = select(func.min(RUNS.c.lease_expires_at)).where(
        RUNS.c.status.in_(CLAIMABLE), RUNS.c.lease_expires_at.is_not(None)
    )
    with reader(engine).connect() as conn:
        at: datetime | None = conn.execute(stmt).scalar()
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at


def next_retry_at(engine: Engine) -> datetime | None:
    """When the earliest deferred tool call of a queued run may be retried."""
    stmt = select(func.min(RUNS.c.not_before)).where(
        RUNS.c.status == RunStatus.QUEUED.value, RUNS.c.not_before.is_not(None)
    )
    with reader(engine).connect() as conn:
        at: datetime | None = conn.execute(stmt).scalar()
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at


def renew(engine: Engine, lease: Lease, ttl_s: float) -> bool:
    """Extend the lease; False when it was lost (taken over, released or run cancelled)."""
    with engine.begin() as conn:
        done = conn.execute(
            update(RUNS)
            .where(RUNS.c.run_id == lease.run_id, RUNS.c.lease_token == lease.token)
            .values(lease_expires_at=utcnow() + timedelta(seconds=ttl_s))
        )
        return done.rowcount == 1


def release(engine: Engine, lease: Lease) -> None:
    """Give the run back (no-op if the lease is already gone)."""
    with engine.begin() as conn:
        conn.execute(
            update(RUNS)
            .where(RUNS.c.run_id == lease.run_id, RUNS.c.lease_token == lease.token)
            .values(lease_owner=None, lease_token=None, lease_expires_at=None)
        )
