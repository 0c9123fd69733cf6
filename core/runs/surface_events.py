"""Entries a surface (voice, handoff) appends to a run's log without changing its status:
written through the run's RunWriter, scoped to the run's owner, at most once per key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from core.errors import NotFound
from core.runs.events import EventType
from core.runs.log import EVENTS, RUNS, RunWriter


def record_run_event(
    engine: Engine,
    tenant_id: str,
    user_id: str,
    run_id: str,
    event_type: EventType,
    data: dict[str, Any],
    *,
    once_key: str | None = None,
) -> bool:
    """Append an event that does not change the run's status; False when ``once_key`` was seen.

    ``once_key`` makes a retry (a replayed turn, a second hang-up handler) append nothing.
    """
    payload = dict(data, once_key=once_key) if once_key else dict(data)
    with engine.begin() as conn:
        owner = conn.execute(
            select(RUNS.c.run_id).where(
                RUNS.c.tenant_id == tenant_id, RUNS.c.user_id == user_id, RUNS.c.run_id == run_id
            )
        ).first()
        if owner is None:
            raise NotFound(f"no run '{run_id}'")
        writer = RunWriter.open(conn, run_id)
        if once_key:
            seen = conn.execute(
                select(EVENTS.c.data).where(EVENTS.c.run_id == run_id, EVENTS.c.type == event_type)
            ).scalars()
            if any((d or {}).get("once_key") == once_key for d in seen):
                return False
        writer.emit(event_type, payload)
        writer.flush()
        return True
