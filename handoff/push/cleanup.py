"""Housekeeping of the push outbox: finished notifications do not pile up.

A delivered notification (or one dropped because its device went away) is deleted after
BATON_PUSH_RETENTION_SECONDS; a failed one is kept longer, BATON_PUSH_FAILED_RETENTION_SECONDS,
so that someone can still see why it failed. Pending and in-flight rows are never touched.
Deep links and web-view sessions need no cleaning: they are signed, expiring tokens that the
server does not store (a link is signed afresh for each send, never kept in the outbox).

Each pass deletes at most one batch, so it never holds the table for long; the duty runs the
next pass at once while there is a backlog and otherwise waits ``every_s``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, delete, or_, select

from core.ids import utcnow
from core.runtime import Runtime
from handoff.config import HandoffSettings
from handoff.devices import OUTBOX

BATCH = 500


def purge_outbox(
    engine: Engine, settings: HandoffSettings, now: datetime | None = None, batch: int = BATCH
) -> int:
    """Delete up to ``batch`` finished notifications past their retention; how many went.

    This runs for the whole store, across tenants: it removes rows nobody reads any more and
    returns nothing of their content.
    """
    now = now or utcnow()
    done_before = now - timedelta(seconds=settings.push_retention_seconds)
    failed_before = now - timedelta(seconds=settings.push_failed_retention_seconds)
    expired = or_(
        and_(OUTBOX.c.status == "delivered", OUTBOX.c.delivered_at < done_before),
        # The last attempt of a dropped or failed row was scheduled at next_attempt_at.
        and_(OUTBOX.c.status == "dropped", OUTBOX.c.next_attempt_at < done_before),
        and_(OUTBOX.c.status == "failed", OUTBOX.c.next_attempt_at < failed_before),
    )
    with engine.begin() as conn:
        some = select(OUTBOX.c.push_id).where(expired).limit(batch)
        gone = conn.execute(delete(OUTBOX).where(OUTBOX.c.push_id.in_(some)))
    return int(gone.rowcount or 0)


class OutboxCleanup:
    """The housekeeping duty (see :func:`core.runtime.register_housekeeping`)."""

    def __init__(
        self, settings: HandoffSettings, every_s: float = 60.0, batch: int = BATCH
    ) -> None:
        self.settings = settings
        self.every_s = every_s
        self.batch = batch
        self._next_at = 0.0

    def __call__(self, rt: Runtime) -> int:
        """Purge one batch when a pass is due; how many rows went."""
        now = time.monotonic()
        if now < self._next_at:
            return 0
        gone = purge_outbox(rt.engine, self.settings, batch=self.batch)
        self._next_at = now if gone >= self.batch else now + self.every_s
        return gone
