"""The call-back queue: rows written in the transaction of the run event that calls for one.

:func:`callback_hook` is registered with :func:`core.runs.log.register_tx_hook`. A phone call
that ends with its yes/no question unanswered queues an ``approval`` call-back at once. A call
that ends (or moves on) while its run still works leaves a ``watch``; the run's next outcome
(completed, or waiting for a yes/no) turns it into a ``result`` or ``approval`` call-back. The
unique (tenant, user, dedup key) row makes each run event call at most once, whatever retries.
Only users who opted in (:mod:`voice.callbacks.prefs`) get rows at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.ids import new_id, utcnow
from core.runs.events import EventType
from voice.callbacks.prefs import prefs_of
from voice.tables import Callback

CALLBACKS = Callback.__table__  # type: ignore[attr-defined]
# Why a phone call handed its run on (voice.bridge), and what that asks of a call-back.
QUESTION_LEFT_OPEN = "call_ended_with_approval_pending"
WORK_OUTLIVED_CALL = frozenset({"run_slower_than_call", "call_ended_while_working"})
UNANSWERED = "callback_unanswered"


class CallbackKind(StrEnum):
    """What a call-back is about."""

    RESULT = "result"
    APPROVAL = "approval"
    WATCH = "watch"
    """Not a call: waits for the run's next outcome, which queues the call-back."""


class CallbackStatus(StrEnum):
    """Where a call-back stands."""

    WATCHING = "watching"
    DONE = "done"
    """A watch whose outcome was queued."""
    PENDING = "pending"
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    CONNECTED = "connected"
    COMPLETED = "completed"
    UNANSWERED = "unanswered"
    FAILED = "failed"
    SKIPPED = "skipped"


def _insert(conn: Connection) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(CALLBACKS)


def _row(
    event: dict[str, Any], kind: CallbackKind, dedup_key: str, approval_id: str | None = None
) -> dict[str, Any]:
    now = utcnow()
    return {
        "callback_id": new_id("cb"),
        "tenant_id": event["tenant_id"],
        "user_id": event["user_id"],
        "run_id": event["run_id"],
        "kind": kind.value,
        "dedup_key": dedup_key[:120],
        "approval_id": approval_id,
        "status": (
            CallbackStatus.WATCHING if kind is CallbackKind.WATCH else CallbackStatus.PENDING
        ),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _from_a_phone_call(event: dict[str, Any]) -> bool:
    data = event.get("data") or {}
    return (
        event["type"] == EventType.HANDOFF_REQUESTED
        and data.get("channel") == "voice"
        and data.get("call_channel") == "phone"
    )


def _outcome(event: dict[str, Any]) -> tuple[CallbackKind, str, str | None] | None:
    """What a run event tells a watching person: (kind, dedup key, approval id)."""
    if event["type"] == EventType.RUN_COMPLETED:
        return CallbackKind.RESULT, f"result:{event['run_id']}:{event['seq']}", None
    if event["type"] == EventType.APPROVAL_REQUESTED:
        approval_id = (event.get("data") or {}).get("approval_id")
        if approval_id:
            return CallbackKind.APPROVAL, f"approval:{approval_id}", str(approval_id)
    return None


def callback_hook(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Queue the call-backs (and watches) these events ask for, for users who opted in."""
    rows: list[dict[str, Any]] = []
    outcomes: list[tuple[dict[str, Any], tuple[CallbackKind, str, str | None]]] = []
    for event in events:
        if _from_a_phone_call(event):
            data = event.get("data") or {}
            reason = data.get("reason")
            if reason == QUESTION_LEFT_OPEN and data.get("approval_id"):
                approval_id = str(data["approval_id"])
                rows.append(
                    _row(event, CallbackKind.APPROVAL, f"approval:{approval_id}", approval_id)
                )
            elif reason in WORK_OUTLIVED_CALL:
                rows.append(_row(event, CallbackKind.WATCH, f"watch:{event['run_id']}"))
        else:
            outcome = _outcome(event)
            if outcome is not None:
                outcomes.append((event, outcome))
    if outcomes:
        rows.extend(_watched_outcomes(conn, outcomes))
    wanted = [r for r in rows if _opted_in(conn, r["tenant_id"], r["user_id"])]
    if wanted:
        stmt = _insert(conn).on_conflict_do_nothing(
            index_elements=["tenant_id", "user_id", "dedup_key"]
        )
        conn.execute(stmt, wanted)


def _opted_in(conn: Connection, tenant_id: str, user_id: str) -> bool:
    prefs = prefs_of(conn, tenant_id, user_id)
    return prefs is not None and prefs.enabled


def _watched_outcomes(
    conn: Connection, outcomes: list[tuple[dict[str, Any], tuple[CallbackKind, str, str | None]]]
) -> list[dict[str, Any]]:
    """Call-backs for outcomes of runs someone is watching; those watches are done."""
    rows: list[dict[str, Any]] = []
    for event, (kind, dedup_key, approval_id) in outcomes:
        done = conn.execute(
            update(CALLBACKS)
            .where(
                CALLBACKS.c.tenant_id == event["tenant_id"],
                CALLBACKS.c.user_id == event["user_id"],
                CALLBACKS.c.run_id == event["run_id"],
                CALLBACKS.c.kind == CallbackKind.WATCH,
                CALLBACKS.c.status == CallbackStatus.WATCHING,
            )
            .values(status=CallbackStatus.DONE, updated_at=utcnow())
        )
        if done.rowcount:
            rows.append(_row(event, kind, dedup_key, approval_id))
    return rows


def _due(now: datetime) -> Any:
    return and_(CALLBACKS.c.status == CallbackStatus.PENDING, CALLBACKS.c.next_attempt_at <= now)


def claim_due(engine: Engine, now: datetime, lease_seconds: float, limit: int = 20) -> list[dict]:
    """Take due call-backs for dialing (status ``dialing`` under a lease), oldest first.

    A row found ``dialing`` with its lease run out was being dialed by a process that died:
    the call may have been placed, so it is never dialed again (see :func:`stale_dials`).
    """
    claimed: list[dict[str, Any]] = []
    with engine.begin() as conn:
        ids = conn.execute(
            select(CALLBACKS.c.callback_id)
            .where(_due(now))
            .order_by(CALLBACKS.c.next_attempt_at, CALLBACKS.c.callback_id)
            .limit(limit)
        ).scalars()
        for callback_id in list(ids):
            taken = conn.execute(
                update(CALLBACKS)
                .where(CALLBACKS.c.callback_id == callback_id, _due(now))
                .values(
                    status=CallbackStatus.DIALING,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    attempts=CALLBACKS.c.attempts + 1,
                    updated_at=now,
                )
            )
            if taken.rowcount == 1:
                row = conn.execute(
                    select(CALLBACKS).where(CALLBACKS.c.callback_id == callback_id)
                ).mappings()
                claimed.append(dict(row.one()))
    return claimed


def stale_dials(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """Call-backs whose dialer died mid-dial: marked failed (their fallback is a push)."""
    with engine.begin() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(CALLBACKS).where(
                    CALLBACKS.c.status == CallbackStatus.DIALING,
                    CALLBACKS.c.lease_expires_at < now,
                )
            ).mappings()
        ]
        done = []
        for row in rows:
            moved = conn.execute(
                update(CALLBACKS)
                .where(
                    CALLBACKS.c.callback_id == row["callback_id"],
                    CALLBACKS.c.status == CallbackStatus.DIALING,
                )
                .values(
                    status=CallbackStatus.FAILED,
                    reason="the dialer stopped mid-dial; not dialed again",
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            if moved.rowcount == 1:
                done.append(row)
    return done


def move(
    engine: Engine,
    callback_id: str,
    *,
    before: set[CallbackStatus],
    to: CallbackStatus,
    **values: Any,
) -> dict[str, Any] | None:
    """Change a call-back's status if it is in one of ``before``; the row after, else None."""
    with engine.begin() as conn:
        moved = conn.execute(
            update(CALLBACKS)
            .where(
                CALLBACKS.c.callback_id == callback_id,
                or_(*(CALLBACKS.c.status == s for s in before)),
            )
            .values(status=to, lease_expires_at=None, updated_at=utcnow(), **values)
        )
        if moved.rowcount != 1:
            return None
        row = conn.execute(
            select(CALLBACKS).where(CALLBACKS.c.callback_id == callback_id)
        ).mappings()
        return dict(row.one())


def get_callback(engine: Engine, callback_id: str) -> dict[str, Any] | None:
    """One call-back by its id (the provider's webhooks name it in their URL)."""
    with engine.connect() as conn:
        row = (
            conn.execute(select(CALLBACKS).where(CALLBACKS.c.callback_id == callback_id))
            .mappings()
            .first()
        )
        return dict(row) if row is not None else None


def callbacks_for_run(
    engine: Engine, tenant_id: str, user_id: str, run_id: str
) -> list[dict[str, Any]]:
    """A run's call-backs (and watches), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(CALLBACKS)
            .where(
                CALLBACKS.c.tenant_id == tenant_id,
                CALLBACKS.c.user_id == user_id,
                CALLBACKS.c.run_id == run_id,
            )
            .order_by(CALLBACKS.c.created_at, CALLBACKS.c.callback_id)
        ).mappings()
        return [dict(r) for r in rows]
