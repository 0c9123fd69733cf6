"""Appending events to a run, in the same transaction as the change they describe.

A :class:`RunWriter` locks the run row, checks each transition against the state machine,
folds the events into the view and writes events and view together. A writer that holds a
lease token is fenced: if another worker took the run over, nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from core.ids import utcnow
from core.runs.events import EventType
from core.runs.events import event_type as event_type_of
from core.runs.projection import PROJECTED, View, apply_event, target_status
from core.runs.states import check_transition
from core.store.tables import Run, RunEvent

RUNS = Run.__table__  # type: ignore[attr-defined]
EVENTS = RunEvent.__table__  # type: ignore[attr-defined]

# Statements are built once: SQLAlchemy memoises compilation per statement object, which is
# most of a step's CPU cost when statements are rebuilt for every write.
MUTABLE = (
    "status",
    "current_step",
    "tool_calls",
    "latest_checkpoint_id",
    "pending_approval_id",
    "not_before",
    "result",
    "failure_reason",
    "meta",
    "last_event_seq",
    "updated_at",
    "cancelled_at",
    "completed_at",
)
LEASE = ("lease_owner", "lease_token", "lease_expires_at")
INSERT_EVENTS = insert(EVENTS)
_BY_ID = RUNS.c.run_id == bindparam("w_run_id")
_FENCE = RUNS.c.lease_token == bindparam("w_token")
_SEQ = RUNS.c.last_event_seq == bindparam("w_seq")


def _update(where: list[Any], columns: tuple[str, ...]) -> Any:
    return update(RUNS).where(*where).values({c: bindparam(f"v_{c}") for c in columns})


UPDATES: dict[tuple[bool, bool, bool], Any] = {
    (fenced, optimistic, lease): _update(
        [_BY_ID, *([_FENCE] if fenced else []), *([_SEQ] if optimistic else [])],
        MUTABLE + (LEASE if lease else ()),
    )
    for fenced in (False, True)
    for optimistic in (False, True)
    for lease in (False, True)
}
SELECT_RUN = select(RUNS).where(_BY_ID)
SELECT_RUN_LOCKED = SELECT_RUN.with_for_update()

TxHook = Callable[[Connection, list[dict[str, Any]]], None]
_tx_hooks: list[TxHook] = []


def register_tx_hook(hook: TxHook) -> None:
    """Run ``hook(conn, events)`` inside every transaction that appends events.

    Surfaces use this to write outbox rows atomically with the events that cause them
    (the core never imports them; they register themselves at start-up).
    """
    if hook not in _tx_hooks:
        _tx_hooks.append(hook)


def unregister_tx_hook(hook: TxHook) -> None:
    """Remove a hook added with :func:`register_tx_hook`."""
    if hook in _tx_hooks:
        _tx_hooks.remove(hook)


class RunNotFound(Exception):
    """No run with that id in the caller's scope."""


class LeaseLost(Exception):
    """The worker's lease on the run is gone (expired and taken over, or released)."""


class StaleView(Exception):
    """An optimistic write found the run changed since it was read; retry with a lock."""


def lock_run(conn: Connection, run_id: str) -> dict[str, Any] | None:
    """Read a run row, locking it for the rest of the transaction on Postgres."""
    stmt = SELECT_RUN_LOCKED if conn.dialect.name == "postgresql" else SELECT_RUN
    row = conn.execute(stmt, {"w_run_id": run_id}).mappings().first()
    return dict(row) if row else None


class RunWriter:
    """Collects events for one run inside one transaction and writes them with the view."""

    def __init__(
        self,
        conn: Connection,
        run: dict[str, Any],
        lease_token: str | None = None,
        now: datetime | None = None,
        expect_seq: int | None = None,
    ) -> None:
        self.conn = conn
        self.row = dict(run)
        self.view: View = {k: run.get(k) for k in PROJECTED}
        self.lease_token = lease_token
        # Optimistic mode: the row was read earlier without a lock; the write only lands if
        # no event was appended since (otherwise StaleView, and the caller retries locked).
        self.expect_seq = expect_seq
        self.now = now or utcnow()
        self.pending: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}

    @classmethod
    def open(cls, conn: Connection, run_id: str, lease_token: str | None = None) -> RunWriter:
        """Lock the run and, when fenced by a lease token, check the lease is still ours."""
        row = lock_run(conn, run_id)
        if row is None:
            raise RunNotFound(run_id)
        if lease_token is not None and row["lease_token"] != lease_token:
            raise LeaseLost(run_id)
        return cls(conn, row, lease_token)

    @classmethod
    def optimistic(cls, conn: Connection, run: dict[str, Any], lease_token: str) -> RunWriter:
        """Write on top of a run row read earlier, without locking it first."""
        return cls(conn, run, lease_token, expect_seq=int(run["last_event_seq"]))

    @property
    def status(self) -> str:
        """The run's status including events not yet flushed."""
        return str(self.view["status"])

    def emit(
        self, event_type: EventType | str, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Append one event; raises IllegalTransition (writing nothing) if it is not allowed,
        and UnknownEventType for a type that is not in :class:`~core.runs.events.EventType`."""
        kind = event_type_of(event_type)
        data = data or {}
        target = target_status(self.view, kind) if self.view.get("status") else None
        if target is not None and self.view.get("status") and target.value != self.view["status"]:
            check_transition(self.view["status"], target.value)
        seq = int(self.view.get("last_event_seq") or 0) + 1
        self.view = apply_event(self.view, kind, data, seq, self.now)
        event = {
            "run_id": self.view["run_id"],
            "tenant_id": self.view["tenant_id"],
            "user_id": self.view["user_id"],
            "seq": seq,
            "type": kind.value,
            "data": data,
            "created_at": self.now,
        }
        self.pending.append(event)
        return event

    def set_lease(self, owner: str | None, token: str | None, expires: datetime | None) -> None:
        """Change the lease columns in the same write."""
        self.extra.update(lease_owner=owner, lease_token=token, lease_expires_at=expires)

    def flush(self) -> list[dict[str, Any]]:
        """Write pending events and the new view; returns the events written."""
        if not self.pending and not self.extra:
            return []
        events, self.pending = self.pending, []
        changes = {k: v for k, v in self.view.items() if self.row.get(k) != v}
        changes.update(self.extra)
        self.extra = {}
        # The run row first: its update takes the row lock, so the event sequence numbers
        # below cannot collide with a concurrent writer's.
        if changes:
            lease = bool(self.extra_written(changes))
            fenced = self.lease_token is not None
            optimistic = self.expect_seq is not None
            params = {f"v_{c}": self.view[c] for c in MUTABLE}
            if lease:
                params.update({f"v_{c}": changes.get(c, self.row.get(c)) for c in LEASE})
            params["w_run_id"] = self.view["run_id"]
            if fenced:
                params["w_token"] = self.lease_token
            if optimistic:
                params["w_seq"] = self.expect_seq
            if self.conn.execute(UPDATES[(fenced, optimistic, lease)], params).rowcount != 1:
                if optimistic:
                    raise StaleView(self.view["run_id"])
                raise LeaseLost(self.view["run_id"])
            self.row.update(changes)
            if optimistic:
                self.expect_seq = int(self.view["last_event_seq"])
        if events:
            self.conn.execute(INSERT_EVENTS, events)
        for hook in list(_tx_hooks):
            hook(self.conn, events)
        return events

    @staticmethod
    def extra_written(changes: dict[str, Any]) -> bool:
        """Whether a write touches the lease columns."""
        return any(c in changes for c in LEASE)


def insert_run(conn: Connection, writer_view: View, events: list[dict[str, Any]]) -> None:
    """Insert a new run row (its view after RunCreated and friends) and its first events."""
    conn.execute(insert(RUNS).values(**writer_view))
    conn.execute(INSERT_EVENTS, events)
    for hook in list(_tx_hooks):
        hook(conn, events)
