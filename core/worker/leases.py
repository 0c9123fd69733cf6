"""Run leases: claim, renew, release, take over after expiry.

Postgres claims with ``SELECT ... FOR UPDATE SKIP LOCKED`` so workers never wait on each
other; SQLite serialises claims through its single writer (``BEGIN IMMEDIATE``), which is
correct across processes. A lease carries a random token; every write of a step is fenced by
it, so a worker that lost its lease cannot write anything.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, or_, select, update

from core.ids import utcnow
from core.runs.log import RUNS, RunWriter
from core.runs.states import IN_FLIGHT, RunStatus

CLAIMABLE = [RunStatus.QUEUED.value, *(s.value for s in IN_FLIGHT)]


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one run."""

    run_id: str
    token: str
    owner: str
    took_over: bool


def claim(engine: Engine, owner: str, ttl_s: float) -> Lease | None:
    """Lease the oldest runnable run (queued, or in flight under an expired lease)."""
    now = utcnow()
    stmt = (
        select(RUNS.c.run_id, RUNS.c.status, RUNS.c.lease_owner)
        .where(
            RUNS.c.status.in_(CLAIMABLE),
            or_(RUNS.c.lease_expires_at.is_(None), RUNS.c.lease_expires_at < now),
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
        return Lease(row.run_id, token, owner, took_over)


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
