"""The webhook outbox: deliveries written in the transaction of the run event that causes them.

:func:`outbox_hook` is registered with :func:`core.runs.log.register_tx_hook`; for each event a
subscription wants it queues one row holding the exact body that will be signed and sent. The
unique (webhook, run, seq) constraint with ON CONFLICT DO NOTHING makes queuing idempotent.
Senders claim rows with a lease, so two processes never send the same delivery at once and a
sender that dies mid-send leaves a row another one picks up, with the same delivery id, once
the lease has run out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.ids import canonical_json, new_id, utcnow
from core.runs.log import register_tx_hook
from core.webhooks.events import FROM_RUN_EVENT, WebhookEvent, event_data
from core.webhooks.service import ACTIVE, DISABLED
from core.webhooks.tables import DELIVERIES, WEBHOOKS


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to one sender, with where it goes and the key that signs it."""

    delivery_id: str
    webhook_id: str
    tenant_id: str
    event: str
    body: str
    attempts: int
    lease_token: str
    url: str
    secret: str


def body_for(delivery_id: str, kind: WebhookEvent, event: dict[str, Any]) -> str:
    """The JSON text sent for one run event (the same bytes on every attempt)."""
    created = event["created_at"]
    return canonical_json(
        {
            "id": delivery_id,
            "type": kind.value,
            "created_at": created.isoformat() if isinstance(created, datetime) else created,
            "tenant_id": event["tenant_id"],
            "data": event_data(kind, event),
        }
    )


def _insert(conn: Connection) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(DELIVERIES)


def outbox_hook(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Queue a delivery per (event, active subscription of its tenant that wants it)."""
    wanted = [(e, FROM_RUN_EVENT[e["type"]]) for e in events if e["type"] in FROM_RUN_EVENT]
    if not wanted:
        return
    subscribers: dict[str, list[tuple[str, list[str]]]] = {}
    for tenant_id in sorted({e["tenant_id"] for e, _ in wanted}):
        subscribers[tenant_id] = [
            (r.webhook_id, list(r.events))
            for r in conn.execute(
                select(WEBHOOKS.c.webhook_id, WEBHOOKS.c.events).where(
                    WEBHOOKS.c.tenant_id == tenant_id, WEBHOOKS.c.status == ACTIVE
                )
            )
        ]
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for event, kind in wanted:
        for webhook_id, chosen in subscribers[event["tenant_id"]]:
            if kind.value not in chosen:
                continue
            delivery_id = new_id("whd")
            rows.append(
                {
                    "delivery_id": delivery_id,
                    "webhook_id": webhook_id,
                    "tenant_id": event["tenant_id"],
                    "user_id": event["user_id"],
                    "run_id": event["run_id"],
                    "event": kind.value,
                    "event_seq": event["seq"],
                    "body": body_for(delivery_id, kind, event),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if rows:
        stmt = _insert(conn).on_conflict_do_nothing(
            index_elements=["webhook_id", "run_id", "event_seq"]
        )
        conn.execute(stmt, rows)


def register_outbox() -> None:
    """Queue webhook deliveries with every event appended in this process (idempotent)."""
    register_tx_hook(outbox_hook)


def _due(now: datetime) -> Any:
    return or_(
        and_(DELIVERIES.c.status == "pending", DELIVERIES.c.next_attempt_at <= now),
        # A sender died between claiming and recording: its lease ran out.
        and_(DELIVERIES.c.status == "sending", DELIVERIES.c.lease_expires_at < now),
    )


_ACTIVE_OWNER = and_(
    WEBHOOKS.c.webhook_id == DELIVERIES.c.webhook_id,
    WEBHOOKS.c.tenant_id == DELIVERIES.c.tenant_id,
    WEBHOOKS.c.status == ACTIVE,
)


def claim_due(engine: Engine, now: datetime, lease_seconds: float, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of active webhooks to this caller.

    This works across tenants by design: it is the sender's queue, and each row it hands out
    goes only to the URL its own tenant chose.
    """
    claimed: list[Claimed] = []
    if limit <= 0:
        return claimed
    with engine.begin() as conn:
        candidates = list(
            conn.execute(
                select(DELIVERIES.c.delivery_id)
                .join(WEBHOOKS, _ACTIVE_OWNER)
                .where(_due(now))
                .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.delivery_id)
                .limit(limit)
            ).scalars()
        )
        for delivery_id in candidates:
            token = secrets.token_hex(8)
            done = conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.delivery_id == delivery_id, _due(now))
                .values(
                    status="sending",
                    lease_token=token,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    attempts=DELIVERIES.c.attempts + 1,
                )
            )
            if done.rowcount != 1:
                continue  # another sender took it
            row = (
                conn.execute(
                    select(DELIVERIES, WEBHOOKS.c.url, WEBHOOKS.c.secret)
                    .join(WEBHOOKS, _ACTIVE_OWNER)
                    .where(DELIVERIES.c.delivery_id == delivery_id)
                )
                .mappings()
                .one()
            )
            claimed.append(
                Claimed(
                    delivery_id=row["delivery_id"],
                    webhook_id=row["webhook_id"],
                    tenant_id=row["tenant_id"],
                    event=row["event"],
                    body=row["body"],
                    attempts=int(row["attempts"]),
                    lease_token=token,
                    url=row["url"],
                    secret=row["secret"],
                )
            )
    return claimed


def _finish(conn: Connection, claimed: Claimed, **values: Any) -> bool:
    """Update a claimed row if our lease still holds; False when another sender owns it now."""
    done = conn.execute(
        update(DELIVERIES)
        .where(
            DELIVERIES.c.delivery_id == claimed.delivery_id,
            DELIVERIES.c.lease_token == claimed.lease_token,
            DELIVERIES.c.status == "sending",
        )
        .values(lease_token=None, lease_expires_at=None, **values)
    )
    return done.rowcount == 1


def _owner(claimed: Claimed) -> Any:
    return and_(
        WEBHOOKS.c.tenant_id == claimed.tenant_id, WEBHOOKS.c.webhook_id == claimed.webhook_id
    )


def mark_delivered(engine: Engine, claimed: Claimed, status_code: int) -> bool:
    """Record a 2xx answer; the webhook's run of failures ends."""
    with engine.begin() as conn:
        if not _finish(
            conn,
            claimed,
            status="delivered",
            last_status_code=status_code,
            last_error=None,
            delivered_at=utcnow(),
        ):
            return False
        conn.execute(update(WEBHOOKS).where(_owner(claimed)).values(consecutive_failures=0))
        return True


def mark_retry(
    engine: Engine, claimed: Claimed, status_code: int | None, error: str, at: datetime
) -> bool:
    """Put the delivery back for another attempt at ``at``."""
    with engine.begin() as conn:
        return _finish(
            conn,
            claimed,
            status="pending",
            next_attempt_at=at,
            last_status_code=status_code,
            last_error=error[:2000],
        )


def mark_failed(
    engine: Engine, claimed: Claimed, status_code: int | None, error: str, disable_after: int
) -> bool:
    """Give up on the delivery; the webhook is disabled, with the reason, once
    ``disable_after`` deliveries in a row have failed."""
    with engine.begin() as conn:
        if not _finish(
            conn, claimed, status="failed", last_status_code=status_code, last_error=error[:2000]
        ):
            return False
        conn.execute(
            update(WEBHOOKS)
            .where(_owner(claimed))
            .values(consecutive_failures=WEBHOOKS.c.consecutive_failures + 1)
        )
        now = utcnow()
        reason = (
            f"disabled after {disable_after} deliveries in a row failed; "
            f"the last, {claimed.delivery_id}: {error[:500]}"
        )
        conn.execute(
            update(WEBHOOKS)
            .where(
                _owner(claimed),
                WEBHOOKS.c.status == ACTIVE,
                WEBHOOKS.c.consecutive_failures >= disable_after,
            )
            .values(status=DISABLED, disabled_reason=reason, disabled_at=now, updated_at=now)
        )
        return True
