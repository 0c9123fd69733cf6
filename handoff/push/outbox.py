"""The push outbox: notifications written in the transaction of the event that causes them.

:func:`outbox_hook` is registered with :func:`core.runs.log.register_tx_hook`; it sees every
batch of events as it is appended and queues one row per (announced thing, device). The
unique (device, dedup key) constraint with ON CONFLICT DO NOTHING makes queuing idempotent.
The delivery worker claims rows with a lease, so a worker that dies mid-send leaves a row
another worker picks up after the lease expires.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.ids import new_id, utcnow
from core.runs.events import EventType
from handoff.devices import DEVICES, OUTBOX

# HandoffRequested (voice: "the rest went to your phone") names an artifact; it shares the
# artifact's dedup key, so it adds a push only for a device the artifact's event missed.
NOTIFYING = frozenset(
    {
        EventType.ARTIFACT_CREATED,
        EventType.HANDOFF_REQUESTED,
        EventType.APPROVAL_REQUESTED,
        EventType.HUMAN_INPUT_REQUESTED,
    }
)


# The voice surface's reason for a call-back that did not reach the person.
CALLBACK_UNANSWERED = "callback_unanswered"


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def notification_for(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(dedup key, payload) of the notification an event causes, or None."""
    data = event.get("data") or {}
    run_id = event["run_id"]
    names_artifact = event["type"] in (EventType.ARTIFACT_CREATED, EventType.HANDOFF_REQUESTED)
    if names_artifact and data.get("artifact_id"):
        return f"artifact:{data['artifact_id']}", {
            "kind": "artifact",
            "run_id": run_id,
            "artifact_id": data["artifact_id"],
            "title": _clip(f"Ready: {data.get('name') or 'your result'}", 80),
            "body": "Tap to read it and continue the run.",
        }
    if event["type"] == EventType.HANDOFF_REQUESTED and data.get("reason") == CALLBACK_UNANSWERED:
        # A call-back nobody picked up: the phone's notification takes its place.
        approval = data.get("kind") == "approval"
        return f"callback:{data.get('callback_id') or event['seq']}", {
            "kind": "approval" if approval else "result",
            "run_id": run_id,
            "title": "Baton tried to call you",
            "body": "Your yes or no is needed. Tap to answer."
            if approval
            else "Your task is done. Tap to see the result.",
        }
    if event["type"] == EventType.APPROVAL_REQUESTED:
        return f"approval:{data['approval_id']}", {
            "kind": "approval",
            "run_id": run_id,
            "approval_id": data["approval_id"],
            "title": "Approval needed",
            "body": _clip(data.get("question") or f"Allow {data.get('tool')}?", 180),
        }
    if event["type"] == EventType.HUMAN_INPUT_REQUESTED:
        return f"input:{run_id}:{event['seq']}", {
            "kind": "input",
            "run_id": run_id,
            "title": "Baton has a question",
            "body": _clip(data.get("question") or "Your run is waiting for you.", 180),
        }
    return None


def _insert(conn: Connection) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(OUTBOX)


def outbox_hook(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Queue a notification per device for each event that announces something."""
    wanted: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for event in events:
        if event["type"] in NOTIFYING:
            note = notification_for(event)
            if note is not None:
                wanted[(event["tenant_id"], event["user_id"])].append(note)
    if not wanted:
        return
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for (tenant_id, user_id), notes in wanted.items():
        devices = conn.execute(
            select(DEVICES.c.device_id).where(
                DEVICES.c.tenant_id == tenant_id, DEVICES.c.user_id == user_id
            )
        ).scalars()
        for device_id in devices:
            for dedup_key, payload in notes:
                rows.append(
                    {
                        "push_id": new_id("push"),
                        "tenant_id": tenant_id,
                        "user_id": user_id,
                        "run_id": payload["run_id"],
                        "device_id": device_id,
                        "dedup_key": dedup_key,
                        "payload": payload,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
    if rows:
        stmt = _insert(conn).on_conflict_do_nothing(index_elements=["device_id", "dedup_key"])
        conn.execute(stmt, rows)


def _due(now: datetime) -> Any:
    return or_(
        and_(OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now),
        # A worker died between claiming and finishing: its lease ran out.
        and_(OUTBOX.c.status == "sending", OUTBOX.c.lease_expires_at < now),
    )


def claim_due(
    engine: Engine, now: datetime, lease_seconds: float, limit: int = 50
) -> list[dict[str, Any]]:
    """Lease up to ``limit`` due notifications (with their device) to this caller."""
    claimed: list[dict[str, Any]] = []
    with engine.begin() as conn:
        candidates = conn.execute(
            select(OUTBOX.c.push_id)
            .where(_due(now))
            .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.push_id)
            .limit(limit)
        ).scalars()
        for push_id in list(candidates):
            token = secrets.token_hex(8)
            done = conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.push_id == push_id, _due(now))
                .values(
                    status="sending",
                    lease_token=token,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    attempts=OUTBOX.c.attempts + 1,
                )
            )
            if done.rowcount != 1:
                continue  # another worker took it
            row = conn.execute(
                select(OUTBOX, DEVICES.c.kind, DEVICES.c.address, DEVICES.c.keys_json)
                .join(
                    DEVICES,
                    and_(
                        DEVICES.c.device_id == OUTBOX.c.device_id,
                        DEVICES.c.tenant_id == OUTBOX.c.tenant_id,
                        DEVICES.c.user_id == OUTBOX.c.user_id,
                    ),
                    isouter=True,
                )
                .where(OUTBOX.c.push_id == push_id)
            ).mappings()
            claimed.append(dict(row.one()))
    return claimed


def _finish(engine: Engine, push: dict[str, Any], **values: Any) -> bool:
    """Update a claimed row if our lease still holds; False when someone else owns it now."""
    with engine.begin() as conn:
        done = conn.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.push_id == push["push_id"],
                OUTBOX.c.lease_token == push["lease_token"],
                OUTBOX.c.status == "sending",
            )
            .values(lease_token=None, lease_expires_at=None, **values)
        )
        return done.rowcount == 1


def mark_delivered(engine: Engine, push: dict[str, Any], message_id: str) -> bool:
    """Record a delivery."""
    return _finish(
        engine,
        push,
        status="delivered",
        provider_message_id=message_id[:500],
        delivered_at=utcnow(),
        last_error=None,
    )


def mark_retry(engine: Engine, push: dict[str, Any], error: str, at: datetime) -> bool:
    """Put the notification back for another attempt at ``at``."""
    return _finish(engine, push, status="pending", next_attempt_at=at, last_error=error[:2000])


def mark_failed(engine: Engine, push: dict[str, Any], error: str) -> bool:
    """Give up on this notification."""
    return _finish(engine, push, status="failed", last_error=error[:2000])


def pushes_for_run(engine: Engine, tenant_id: str, user_id: str, run_id: str) -> list[dict]:
    """The run's notifications (for the web view and tests), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(OUTBOX)
            .where(
                OUTBOX.c.tenant_id == tenant_id,
                OUTBOX.c.user_id == user_id,
                OUTBOX.c.run_id == run_id,
            )
            .order_by(OUTBOX.c.created_at, OUTBOX.c.push_id)
        ).mappings()
        return [dict(r) for r in rows]
