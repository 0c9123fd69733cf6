"""The run API of the core: create, read, message, approve, cancel, resume.

Every method takes the caller's tenant and user first and scopes its query by them before
anything else, so another tenant's run is simply not found. Every change appends events in
the same transaction (see :mod:`core.runs.log`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from core.config import Settings, get_settings
from core.errors import Conflict, InvalidInput, NotFound, TooLarge
from core.ids import hash_json, new_id, utcnow
from core.runs.approval_ledger import (
    APPROVALS,
    approve_edited,
    cancel_pending,
    decide_approval,
)
from core.runs.log import EVENTS, RUNS, RunWriter, insert_run
from core.runs.notify import Subscription, run_changes
from core.runs.projection import rebuild
from core.runs.states import TERMINAL, IllegalTransition, RunStatus
from core.store.scoped import scoped_row

S = RunStatus


def _run_dict(row: Any) -> dict[str, Any]:
    return dict(row) if row is not None else {}


class RunStore:
    """Scoped operations on runs, for the API, the CLI, voice and the web view."""

    def __init__(self, engine: Engine, settings: Settings | None = None) -> None:
        self.engine = engine
        self.settings = settings or get_settings()

    # ----- reads -------------------------------------------------------------------------

    def watch(self, run_ids: Iterable[str]) -> Subscription:
        """Wake-ups when these runs change, in this process or another (a context manager).

        Subscribe first, then read: a change committed after the subscription always wakes it.
        """
        return run_changes().subscribe(run_ids, engine=self.engine)

    def get_run(self, tenant_id: str, user_id: str, run_id: str) -> dict[str, Any]:
        """The run view; NotFound unless it belongs to this tenant and user."""
        with self.engine.connect() as conn:
            return self._get(conn, tenant_id, user_id, run_id)

    @staticmethod
    def _get(conn: Connection, tenant_id: str, user_id: str, run_id: str) -> dict[str, Any]:
        row = scoped_row(conn, RUNS, tenant_id, user_id, run_id=run_id)
        if row is None:
            raise NotFound(f"no run '{run_id}'")
        return row

    def list_runs(
        self, tenant_id: str, user_id: str, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The user's runs, newest first."""
        stmt = select(RUNS).where(RUNS.c.tenant_id == tenant_id, RUNS.c.user_id == user_id)
        if status:
            stmt = stmt.where(RUNS.c.status == status)
        stmt = stmt.order_by(RUNS.c.created_at.desc()).limit(max(1, min(limit, 500)))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def open_runs(self, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
        """The user's runs that are not finished, most recently touched first."""
        stmt = (
            select(RUNS)
            .where(
                RUNS.c.tenant_id == tenant_id,
                RUNS.c.user_id == user_id,
                RUNS.c.status.not_in([s.value for s in TERMINAL]),
            )
            .order_by(RUNS.c.updated_at.desc())
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def events(
        self, tenant_id: str, user_id: str, run_id: str, after_seq: int = 0, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """The run's events after ``after_seq``, in order."""
        with self.engine.connect() as conn:
            self._get(conn, tenant_id, user_id, run_id)
            rows = conn.execute(
                select(EVENTS)
                .where(
                    EVENTS.c.tenant_id == tenant_id,
                    EVENTS.c.user_id == user_id,
                    EVENTS.c.run_id == run_id,
                    EVENTS.c.seq > after_seq,
                )
                .order_by(EVENTS.c.seq)
                .limit(max(1, min(limit, 5000)))
            ).mappings()
            return [dict(r) for r in rows]

    def pending_approval(self, tenant_id: str, user_id: str, run_id: str) -> dict[str, Any] | None:
        """The approval the run is waiting for, if any."""
        with self.engine.connect() as conn:
            run = self._get(conn, tenant_id, user_id, run_id)
            if not run["pending_approval_id"]:
                return None
            return scoped_row(
                conn, APPROVALS, tenant_id, user_id, approval_id=run["pending_approval_id"]
            )

    def approvals(self, tenant_id: str, user_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every approval of the run, oldest first."""
        with self.engine.connect() as conn:
            self._get(conn, tenant_id, user_id, run_id)
            rows = conn.execute(
                select(APPROVALS)
                .where(
                    APPROVALS.c.tenant_id == tenant_id,
                    APPROVALS.c.user_id == user_id,
                    APPROVALS.c.run_id == run_id,
                )
                .order_by(APPROVALS.c.created_at)
            ).mappings()
            return [dict(r) for r in rows]

    def rebuilt_view(self, tenant_id: str, user_id: str, run_id: str) -> dict[str, Any]:
        """The run view recomputed from its events alone."""
        return rebuild(self.events(tenant_id, user_id, run_id, limit=5000))

    # ----- writes ------------------------------------------------------------------------

    def create_run(
        self,
        tenant_id: str,
        user_id: str,
        goal: str,
        *,
        channel: str = "api",
        idempotency_key: str | None = None,
        parent_run_id: str | None = None,
        meta: dict[str, Any] | None = None,
        max_steps: int | None = None,
        max_tool_calls: int | None = None,
        max_wall_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Create and queue a run. The same idempotency key returns the same run, marked
        ``replayed`` (also to the loser of two concurrent requests with one key)."""
        s = self.settings
        goal = (goal or "").strip()
        if not goal:
            raise InvalidInput("goal must not be empty")
        if len(goal) > s.max_goal_chars:
            raise TooLarge(f"goal is {len(goal)} characters; the limit is {s.max_goal_chars}")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            raise InvalidInput("Idempotency-Key must be 1 to 200 characters")
        limits = {
            "max_steps": _limit("max_steps", max_steps, s.max_steps),
            "max_tool_calls": _limit("max_tool_calls", max_tool_calls, s.max_tool_calls),
            "max_wall_seconds": _limit("max_wall_seconds", max_wall_seconds, s.max_wall_seconds),
        }
        request = {
            "goal": goal,
            "channel": channel,
            "parent": parent_run_id,
            "meta": meta,
            **limits,
        }
        request_hash = hash_json(request)
        if idempotency_key:
            existing = self.find_by_idempotency_key(tenant_id, user_id, idempotency_key)
            if existing is not None:
                return self._same_request(existing, request_hash)
        now = utcnow()
        run_id = new_id("run")
        try:
            with self.engine.begin() as conn:
                if parent_run_id:
                    self._get(conn, tenant_id, user_id, parent_run_id)
                writer = RunWriter(conn, {}, now=now)
                writer.emit(
                    "RunCreated",
                    {
                        "run_id": run_id,
                        "tenant_id": tenant_id,
                        "user_id": user_id,
                        "goal": goal,
                        "channel": channel,
                        "parent_run_id": parent_run_id,
                        "meta": meta or {},
                        "idempotency_key": idempotency_key,
                        "request_hash": request_hash,
                        "deadline_at": (
                            now + timedelta(seconds=limits["max_wall_seconds"])
                        ).isoformat(),
                        **limits,
                    },
                )
                writer.emit("RunQueued", {})
                insert_run(conn, writer.view, writer.pending)
                return dict(writer.view)
        except IntegrityError:
            # Two requests with one key raced; the loser returns the winner's run.
            if idempotency_key:
                existing = self.find_by_idempotency_key(tenant_id, user_id, idempotency_key)
                if existing is not None:
                    return self._same_request(existing, request_hash)
            raise

    @staticmethod
    def _same_request(existing: dict[str, Any], request_hash: str) -> dict[str, Any]:
        if existing["request_hash"] != request_hash:
            raise Conflict("this Idempotency-Key was used for a different request")
        return {**existing, "replayed": True}

    def find_by_idempotency_key(
        self, tenant_id: str, user_id: str, key: str
    ) -> dict[str, Any] | None:
        """The run this user created with this Idempotency-Key, if any."""
        with self.engine.connect() as conn:
            return scoped_row(conn, RUNS, tenant_id, user_id, idempotency_key=key)

    def _writer(self, conn: Connection, tenant_id: str, user_id: str, run_id: str) -> RunWriter:
        self._get(conn, tenant_id, user_id, run_id)
        return RunWriter.open(conn, run_id)

    def post_message(
        self, tenant_id: str, user_id: str, run_id: str, text: str, channel: str = "api"
    ) -> dict[str, Any]:
        """Add a user message to the run; an idle run is queued to answer it.

        A message while an approval is pending supersedes the approval (the person chose
        to say something else); a cancelled run is resumed by it; a finished run is not
        reopened (start a follow-up run instead).
        """
        text = (text or "").strip()
        if not text:
            raise InvalidInput("message must not be empty")
        if len(text) > self.settings.max_message_chars:
            raise TooLarge(
                f"message is {len(text)} characters; the limit is {self.settings.max_message_chars}"
            )
        with self.engine.begin() as conn:
            w = self._writer(conn, tenant_id, user_id, run_id)
            if w.status in (S.COMPLETED, S.FAILED):
                raise Conflict(f"run is {w.status}; start a follow-up run to continue it")
            if w.status == S.CANCELLED:
                w.emit("RunResumed", {"by": user_id, "channel": channel})
            pending = w.view.get("pending_approval_id")
            if pending:
                decide_approval(conn, pending, "superseded", user_id, channel, text)
                w.emit("ApprovalSuperseded", {"approval_id": pending})
            w.emit("UserMessageReceived", {"text": text, "channel": channel})
            w.flush()
            return dict(w.view)

    def cancel(
        self, tenant_id: str, user_id: str, run_id: str, reason: str = "", channel: str = "api"
    ) -> dict[str, Any]:
        """Cancel the run; pending approvals die with it and a working worker loses its lease."""
        with self.engine.begin() as conn:
            w = self._writer(conn, tenant_id, user_id, run_id)
            if w.status in TERMINAL:
                raise IllegalTransition(w.status, S.CANCELLED)
            cancel_pending(conn, run_id)
            w.emit("RunCancelled", {"by": user_id, "reason": reason[:500], "channel": channel})
            w.set_lease(None, None, None)
            w.flush()
            return dict(w.view)

    def resume(
        self,
        tenant_id: str,
        user_id: str,
        run_id: str,
        message: str | None = None,
        channel: str = "api",
    ) -> dict[str, Any]:
        """Continue a cancelled or waiting run, optionally with a message from the user."""
        if message:
            return self.post_message(tenant_id, user_id, run_id, message, channel)
        with self.engine.begin() as conn:
            w = self._writer(conn, tenant_id, user_id, run_id)
            if w.status == S.CANCELLED:
                w.emit("RunResumed", {"by": user_id, "channel": channel})
                w.flush()
            elif w.status == S.WAITING_FOR_HUMAN:
                if w.view.get("pending_approval_id"):
                    raise Conflict("the run waits for an approval: approve or deny it")
                raise Conflict("the run waits for an answer: resume it with a message")
            elif w.status in (S.COMPLETED, S.FAILED):
                raise IllegalTransition(w.status, S.QUEUED)
            return dict(w.view)

    def follow_up(
        self, tenant_id: str, user_id: str, run_id: str, text: str, channel: str = "api"
    ) -> dict[str, Any]:
        """Start a new run linked to a finished one, carrying its goal and result as context."""
        parent = self.get_run(tenant_id, user_id, run_id)
        if parent["status"] not in (S.COMPLETED, S.FAILED):
            raise Conflict(f"run is {parent['status']}; send it a message instead")
        return self.create_run(
            tenant_id,
            user_id,
            text,
            channel=channel,
            parent_run_id=run_id,
            meta={"parent_goal": parent["goal"], "parent_result": parent["result"]},
        )

    def decide_approval(
        self,
        tenant_id: str,
        user_id: str,
        run_id: str,
        approval_id: str,
        approve: bool,
        edited_arguments: dict[str, Any] | None = None,
        channel: str = "api",
        evidence: str | None = None,
        method: str | None = None,
    ) -> dict[str, Any]:
        """Approve or deny the run's pending approval (edited arguments make a new approval).

        ``method`` says how a surface read the decision (a spoken answer's lexicon, fuzzy or
        model path, a keypad press); it is kept in the decision event.

        An approval is for one run, one user and one decision: a second decision, another
        run's or user's approval, or an approval of a cancelled run is refused.
        """
        with self.engine.begin() as conn:
            w = self._writer(conn, tenant_id, user_id, run_id)
            row = scoped_row(
                conn, APPROVALS, tenant_id, user_id, run_id=run_id, approval_id=approval_id
            )
            if row is None:
                raise NotFound(f"no approval '{approval_id}' on run '{run_id}'")
            if row["status"] != "pending":
                raise Conflict(f"approval '{approval_id}' is already {row['status']}")
            if w.status != S.WAITING_FOR_HUMAN or w.view.get("pending_approval_id") != approval_id:
                raise Conflict(f"run is {w.status} and is not waiting for this approval")
            if not approve:
                decide_approval(conn, approval_id, "denied", user_id, channel, evidence)
                w.emit(
                    "ApprovalDenied",
                    {
                        "approval_id": approval_id,
                        "tool": row["tool_name"],
                        "channel": channel,
                        "evidence": evidence,
                        **({"method": method} if method else {}),
                    },
                )
            elif edited_arguments is not None and edited_arguments != row["arguments_json"]:
                if not isinstance(edited_arguments, dict):
                    raise InvalidInput("edited arguments must be a JSON object")
                new_approval = approve_edited(
                    conn, row, edited_arguments, user_id, channel, evidence
                )
                w.emit(
                    "ApprovalGranted",
                    {
                        "approval_id": new_approval,
                        "supersedes": approval_id,
                        "tool": row["tool_name"],
                        "edited": True,
                        "channel": channel,
                        **({"method": method} if method else {}),
                    },
                )
            else:
                decide_approval(conn, approval_id, "approved", user_id, channel, evidence)
                w.emit(
                    "ApprovalGranted",
                    {
                        "approval_id": approval_id,
                        "tool": row["tool_name"],
                        "channel": channel,
                        "evidence": evidence,
                        **({"method": method} if method else {}),
                    },
                )
            w.flush()
            return dict(w.view)


def _limit(name: str, asked: int | None, ceiling: int) -> int:
    if asked is None:
        return ceiling
    if not 1 <= asked <= ceiling:
        raise InvalidInput(f"{name} must be between 1 and {ceiling}")
    return asked
