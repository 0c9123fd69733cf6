"""One stateless step of a run.

A step loads everything from the store (run row, latest checkpoint, the inbox of events since
it), asks the agent for one decision, persists the decision, then executes the tool / waits
for a human / responds, and writes the checkpoint. Nothing survives in memory between steps:
a worker killed anywhere leaves the run in a state another worker resumes from.

Write points (each one transaction, fenced by the lease token):
  claim            -> StepStarted                                   (status planning)
  decision         -> ModelCalled, DecisionRecorded, then per decision: the tool invocation
                      row + ToolCallStarted (running_tool), or ApprovalRequested, or
                      RunCompleted / HumanInputRequested, with the checkpoint
  tool result      -> invocation result, ToolCallSucceeded/Failed, checkpoint, next StepStarted

A call the gate refuses only for now (rate limit, paused tool) is not shown to the agent: the
decision writes a checkpoint whose pending action is that call and ToolCallDeferred with the
retry time (the run is queued again, and claimed only after that time); the next step
proposes exactly that call again without asking the agent. Only a final refusal (or one that
waited BATON_TOOL_MAX_DEFERRALS times, or would outlive the run) reaches the agent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.agent.accounting import budget_for, record_model_calls
from core.config import get_settings
from core.context.assemble import ContextBudgetExceeded, assemble_context
from core.ids import hash_json, new_id
from core.metrics.runs import step_written
from core.profiles import profile_for
from core.runs.approval_ledger import APPROVALS, request_approval
from core.runs.log import EVENTS, RUNS, RunWriter, StaleView
from core.runs.states import TERMINAL, RunStatus
from core.store.db import reader
from core.store.tables import Checkpoint, ToolInvocation
from core.tools.gate import ToolGate, Verdict
from core.tools.spec import Idempotency, ToolContext, ToolResult, ToolSpec
from core.tracing import annotate, run_span, span_event
from core.tracing import attributes as tool_attributes
from core.tracing.decisions import record_decision
from core.worker.leases import Lease
from models.contract import (
    Agent,
    AgentError,
    AgentResult,
    AskHumanDecision,
    ModelCallRecord,
    ProposeMemoryDecision,
    RespondDecision,
    ToolCallDecision,
    ToolSchema,
)

T = TypeVar("T")
CHECKPOINTS = Checkpoint.__table__  # type: ignore[attr-defined]
INVOCATIONS = ToolInvocation.__table__  # type: ignore[attr-defined]
S = RunStatus

# Boundary names a test or tracer can observe (the crash tests SIGKILL the worker there).
BEFORE_MODEL = "before_model"
AFTER_DECISION = "after_decision"
AFTER_TOOL = "after_tool"
WAITING_FOR_APPROVAL = "waiting_for_approval"
Observer = Callable[[str, str, int], None]
# Events after the latest checkpoint that the next step must fold into its state. A decision
# recorded without a checkpoint is the tool call a dead worker left in progress.
INBOX_TYPES = ["UserMessageReceived", "ApprovalGranted", "ApprovalDenied", "DecisionRecorded"]
# The pending action of a checkpoint whose tool call waits for the gate (rate limit, breaker).
DEFERRED_CALL = "deferred_tool_call"


def idempotency_key(run_id: str, step: int, tool: str, arguments: dict[str, Any]) -> str:
    """The key of a tool call: derived from run, step, tool and arguments."""
    return f"{run_id}:{step}:{tool}:{hash_json(arguments)[:16]}"


@dataclass
class Snapshot:
    """What a step knows: the run, its latest checkpointed state and the inbox since."""

    run: dict[str, Any]
    state: dict[str, Any]
    inbox: list[dict[str, Any]]
    # The latest checkpoint's pending action (an approval awaited, a deferred tool call).
    pending: dict[str, Any] | None = None


# Statements built once (compilation is memoised per statement object).
LOAD_RUN = (
    select(RUNS, CHECKPOINTS.c.state_json, CHECKPOINTS.c.pending_action_json)
    .select_from(
        RUNS.outerjoin(CHECKPOINTS, CHECKPOINTS.c.checkpoint_id == RUNS.c.latest_checkpoint_id)
    )
    .where(RUNS.c.run_id == bindparam("run_id"))
)
LOAD_INBOX = (
    select(EVENTS.c.seq, EVENTS.c.type, EVENTS.c.data)
    .where(
        EVENTS.c.run_id == bindparam("run_id"),
        EVENTS.c.seq > bindparam("after"),
        EVENTS.c.type.in_(INBOX_TYPES),
    )
    .order_by(EVENTS.c.seq)
)
INSERT_CHECKPOINT = insert(CHECKPOINTS)
INSERT_INVOCATION = {
    "postgresql": pg_insert(INVOCATIONS).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(INVOCATIONS).on_conflict_do_nothing(),
}
FINISH_INVOCATION = (
    update(INVOCATIONS)
    .where(INVOCATIONS.c.tool_call_id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        completed_at=bindparam("b_at"),
        result_json=bindparam("b_result"),
        error_json=bindparam("b_error"),
    )
)


class StepRunner:
    """Executes steps of leased runs. Holds configuration only, never run state."""

    def __init__(
        self,
        engine: Engine,
        agent: Agent,
        gate: ToolGate,
        observer: Observer | None = None,
        scopes_for: Callable[[str, str], set[str] | None] | None = None,
    ) -> None:
        self.engine = engine
        self.reader = reader(engine)
        self.agent = agent
        self.gate = gate
        self.observer = observer
        self.scopes_for = scopes_for or (lambda _t, _u: None)

    def _boundary(self, name: str, run_id: str, step: int) -> None:
        if self.observer is not None:
            self.observer(name, run_id, step)

    # ----- loading -------------------------------------------------------------------------

    def load(self, run_id: str) -> Snapshot:
        """Read the run, its latest checkpoint and the events since that checkpoint."""
        with self.reader.connect() as conn:
            run = dict(conn.execute(LOAD_RUN, {"run_id": run_id}).mappings().one())
            state = run.pop("state_json") or initial_state(run)
            pending = run.pop("pending_action_json")
            after = int(state.get("event_seq", 0))
            inbox = [
                dict(r)
                for r in conn.execute(LOAD_INBOX, {"run_id": run_id, "after": after}).mappings()
            ]
        return Snapshot(run, state, inbox, pending)

    def _write(
        self,
        lease: Lease,
        row: dict[str, Any],
        body: Callable[[RunWriter], T],
        durable: bool = True,
    ) -> tuple[T, dict[str, Any]]:
        """Run ``body`` in one transaction on top of ``row`` and return (its result, new row).

        The write is optimistic (no lock, no re-read); if the run changed meanwhile (a
        message, a cancel) it is retried once on the freshly locked row. ``durable=False``
        lets Postgres acknowledge the commit before the WAL is flushed: only for writes
        whose loss after a server crash means redoing work, never repeating an effect.
        """
        started = time.perf_counter()
        try:
            with self.engine.begin() as conn:
                if not durable:
                    relax_commit(conn)
                w = RunWriter.optimistic(conn, row, lease.token)
                out = body(w)
                written = w.flush()
            step_written(written, time.perf_counter() - started)
            return out, w.row
        except StaleView:
            with self.engine.begin() as conn:
                w = RunWriter.open(conn, lease.run_id, lease.token)
                out = body(w)
                written = w.flush()
            step_written(written, time.perf_counter() - started)
            return out, w.row

    # ----- the step ------------------------------------------------------------------------

    async def run_step(self, lease: Lease) -> bool:
        """Execute one step of the leased run; True when the run is ready for another."""
        with run_span("run.step", lease.run_id) as span:
            more = await self._run_step(lease)
            span.set_attribute("baton.step.more", more)
            return more

    async def _run_step(self, lease: Lease) -> bool:
        snap = self.load(lease.run_id)
        run = snap.run
        if run["lease_token"] != lease.token:
            return False
        status = run["status"]
        annotate({"baton.step": int(run["current_step"]), "baton.step.status": status})
        if status in TERMINAL or status == S.WAITING_FOR_HUMAN:
            return False
        if status in (S.RUNNING_TOOL, S.WAITING_FOR_TOOL):
            return await self._finish_interrupted_tool(lease, snap)
        if status == S.QUEUED:
            started, run = self._write(lease, run, start_next_step, durable=False)
            if not started:
                return False
            annotate({"baton.step": int(run["current_step"])})
        state = absorb_inbox(snap.state, snap.inbox)
        granted = [e for e in snap.inbox if e["type"] == "ApprovalGranted"]
        if granted:
            return await self._execute_approved(lease, run, state, granted[-1]["data"])
        if snap.pending is not None and snap.pending.get("type") == DEFERRED_CALL:
            return await self._retry_deferred(lease, run, state, snap.pending)
        return await self._decide(lease, run, state)

    async def _decide(self, lease: Lease, run: dict[str, Any], state: dict[str, Any]) -> bool:
        step = int(run["current_step"])
        scopes = self.scopes_for(run["tenant_id"], run["user_id"])
        visible = self.gate.visible_tools(run["tenant_id"], run["user_id"], scopes)
        tools = [ToolSchema(**t.schema_for_model()) for t in visible]
        settings = get_settings()
        try:
            with run_span("context.assemble", run["run_id"]) as span, self.reader.connect() as conn:
                budget = budget_for(
                    conn, settings, tenant_id=run["tenant_id"], run_id=run["run_id"]
                )
                pack = assemble_context(
                    conn,
                    run=run,
                    state=state,
                    tools=tools,
                    profile=profile_for(run["channel"]),
                    budget=budget,
                    token_budget=settings.context_default_tokens,
                )
                span.set_attributes(
                    {
                        "baton.context.memories": len(pack.memories),
                        "baton.context.tokens": int(pack.budget["context_tokens"]["used"]),
                        "baton.context.messages": len(pack.messages),
                    }
                )
        except ContextBudgetExceeded as exc:
            self._fail(lease, f"the context does not fit: {exc}")
            return False
        self._boundary(BEFORE_MODEL, run["run_id"], step)
        with run_span("agent.decide", run["run_id"], {"baton.step": step}) as span:
            started = time.time_ns()
            try:
                result = await self.agent.decide(pack)
            except AgentError as exc:
                ended = time.time_ns()
                record_decision(run["run_id"], pack.system, started, ended, exc.calls, None)
                span.set_attribute("baton.decision.type", "error")
                self._fail(lease, f"the agent could not decide: {exc}", exc.calls, pack.task_type)
                return False
            understood, ended = result.understanding, time.time_ns()
            record_decision(run["run_id"], pack.system, started, ended, result.calls, understood)
            span.set_attribute("baton.decision.type", result.decision.type)
        decision = result.decision
        state = dict(state, decisions=int(state.get("decisions", 0)) + 1)
        model_call = {
            "decision": decision.model_dump(),
            "refs": pack.refs,
            "calls": [c.model_dump() for c in result.calls],
        }
        # Only a call whose effect cannot be observed may be acknowledged before it is on disk.
        spec = self._spec_or_none(decision.tool) if isinstance(decision, ToolCallDecision) else None
        durable = spec is None or spec.idempotency != Idempotency.SAFE

        def record(w: RunWriter) -> tuple[ToolSpec, dict[str, Any]] | bool | None:
            if w.status != S.PLANNING:
                return False
            w.emit("ModelCalled", {"step": step, "task_type": pack.task_type})
            w.emit("DecisionRecorded", {"step": step, **_decision_event(result)})
            record_model_calls(
                w.conn,
                tenant_id=run["tenant_id"],
                user_id=run["user_id"],
                run_id=run["run_id"],
                step=step,
                task_type=pack.task_type,
                calls=result.calls,
            )
            if isinstance(decision, ToolCallDecision):
                return self._propose_tool(w, state, step, decision, model_call, scopes)
            if isinstance(decision, ProposeMemoryDecision):
                span_event("memory.proposed", {"baton.memory.type": decision.memory_type})
                w.emit(
                    "MemoryWriteProposed",
                    {**decision.model_dump(), "source": {"run_id": run["run_id"], "step": step}},
                )
                noted = _add(state, "assistant", f"(noted for memory: {decision.content})")
                write_checkpoint(w, step, noted, model_call=model_call)
                return start_next_step(w)
            text = decision.question if isinstance(decision, AskHumanDecision) else decision.message
            write_checkpoint(w, step, _add(state, "assistant", text), model_call=model_call)
            if isinstance(decision, RespondDecision):
                w.emit("RunCompleted", {"result": text})
            else:
                w.emit("HumanInputRequested", {"question": text})
            return False

        outcome, row = self._write(lease, run, record, durable=durable)
        return await self._carry_out(lease, row, state, step, outcome, model_call)

    def _spec_or_none(self, name: str) -> ToolSpec | None:
        try:
            return self.gate.registry.get(name)
        except KeyError:
            return None

    def _propose_tool(
        self,
        w: RunWriter,
        state: dict[str, Any],
        step: int,
        decision: ToolCallDecision,
        model_call: dict[str, Any] | None,
        scopes: set[str] | None,
        deferrals: int = 0,
    ) -> tuple[ToolSpec, dict[str, Any]] | bool | None:
        """Judge a proposed call. Returns (spec, invocation) to execute now, None when it
        waits for a human, or whether the run goes on to another step without executing.
        ``deferrals`` counts the times this same decision already waited (a retry)."""
        run = w.view
        verdict = self.gate.judge(
            run["tenant_id"],
            run["user_id"],
            decision.tool,
            decision.arguments,
            scopes,
            call_id=deferred_call_id(run["run_id"], decision.tool, decision.arguments),
        )
        proposed = {
            "step": step,
            "tool": decision.tool,
            "arguments": decision.arguments,
            "reason": decision.reason,
            "verdict": verdict.as_event(),
        }
        w.emit("ToolCallProposed", {**proposed, "deferrals": deferrals} if deferrals else proposed)
        span_event("tool.proposed", tool_attributes.tool_verdict(decision.tool, verdict))
        if verdict.outcome == "deny":
            call = DeferredCall(decision.tool, decision.arguments, decision.reason, None, deferrals)
            return self._defer_or_deny(w, state, step, call, verdict, model_call)
        if int(run["tool_calls"] or 0) >= int(run["max_tool_calls"]):
            w.emit("RunFailed", {"reason": f"tool call limit reached ({run['max_tool_calls']})"})
            return False
        assert verdict.spec is not None
        if verdict.outcome == "approve":
            question = verdict.spec.approval_question(decision.arguments) or approval_question(
                decision.tool, decision.arguments
            )
            approval_id = request_approval(
                w.conn,
                run,
                step,
                decision.tool,
                decision.arguments,
                int(verdict.spec.risk_level),
                question,
                w.now,
            )
            pending = {
                "type": "tool_call",
                "tool": decision.tool,
                "arguments": decision.arguments,
                "approval_id": approval_id,
            }
            write_checkpoint(w, step, state, pending=pending, model_call=model_call)
            w.emit(
                "ApprovalRequested",
                {
                    "approval_id": approval_id,
                    "tool": decision.tool,
                    "arguments": decision.arguments,
                    "question": question,
                    "risk_level": int(verdict.spec.risk_level),
                },
            )
            span_event("approval.requested", {"baton.approval.id": approval_id})
            return None
        return self.start_invocation(w, step, verdict.spec, decision.arguments, None)

    async def _retry_deferred(
        self, lease: Lease, run: dict[str, Any], state: dict[str, Any], pending: dict[str, Any]
    ) -> bool:
        """Propose again exactly the call that was deferred (never asking the model again)."""
        call = DeferredCall.from_pending(pending)
        if call.approval_id is not None:
            granted = {"approval_id": call.approval_id}
            return await self._execute_approved(lease, run, state, granted, call.deferrals)
        step = int(run["current_step"])
        scopes = self.scopes_for(run["tenant_id"], run["user_id"])
        decision = ToolCallDecision(tool=call.tool, arguments=call.arguments, reason=call.reason)

        def record(w: RunWriter) -> tuple[ToolSpec, dict[str, Any]] | bool | None:
            if w.status != S.PLANNING:
                return False
            return self._propose_tool(w, state, step, decision, None, scopes, call.deferrals)

        outcome, row = self._write(lease, run, record)
        return await self._carry_out(lease, row, state, step, outcome, None)

    def _defer_or_deny(
        self,
        w: RunWriter,
        state: dict[str, Any],
        step: int,
        call: DeferredCall,
        verdict: Verdict,
        model_call: dict[str, Any] | None,
    ) -> bool:
        """Put a retryable denial off until the wait the gate named (the run goes back to
        the queue and keeps the call as its pending action); any other denial, or one that
        waited too often or would outlive the run, is handed to the agent."""
        retry_at = w.now + timedelta(seconds=verdict.retry_after_s or 0.0)
        if (
            not verdict.retryable
            or call.deferrals >= get_settings().tool_max_deferrals
            or retry_at > _aware(w.view["deadline_at"], w.now)
        ):
            return self._denied(w, state, step, call.tool, verdict, model_call)
        waiting = replace(call, deferrals=call.deferrals + 1)
        write_checkpoint(w, step, state, pending=waiting.as_pending(), model_call=model_call)
        w.emit(
            "ToolCallDeferred",
            {
                "step": step,
                "tool": call.tool,
                "error_type": verdict.error_type,
                "reason": verdict.reason,
                "retry_at": retry_at.isoformat(),
                "deferrals": waiting.deferrals,
            },
        )
        return False

    def _denied(
        self,
        w: RunWriter,
        state: dict[str, Any],
        step: int,
        tool: str,
        verdict: Verdict,
        model_call: dict[str, Any] | None,
    ) -> bool:
        result = ToolResult(
            status="denied", error_type=verdict.error_type, message=verdict.reason
        ).model_dump()
        w.emit("ToolCallDenied", {"step": step, "tool": tool, "verdict": verdict.as_event()})
        state = _add(state, "tool", json.dumps(result), name=tool)
        write_checkpoint(w, step, state, model_call=model_call, tool_result=result)
        return start_next_step(w)

    def start_invocation(
        self,
        w: RunWriter,
        step: int,
        spec: ToolSpec,
        arguments: dict[str, Any],
        approval_id: str | None,
        key: str | None = None,
    ) -> tuple[ToolSpec, dict[str, Any]]:
        """Record a call before it executes; an existing record under the same key is reused
        (same arguments) or refused with IdempotencyConflict (other arguments)."""
        run = w.view
        key = key or idempotency_key(run["run_id"], step, spec.name, arguments)
        row = {
            "tool_call_id": new_id("tc"),
            "run_id": run["run_id"],
            "tenant_id": run["tenant_id"],
            "user_id": run["user_id"],
            "step": step,
            "checkpoint_id": run["latest_checkpoint_id"],
            "tool_name": spec.name,
            "arguments_json": arguments,
            "arguments_hash": hash_json(arguments),
            "idempotency_key": key,
            "status": "running",
            "approval_id": approval_id,
            "attempts": 1,
            "started_at": w.now,
            "completed_at": None,
            "result_json": None,
            "error_json": None,
        }
        inserted = w.conn.execute(INSERT_INVOCATION[w.conn.dialect.name], row).rowcount
        if inserted != 1:
            existing = find_invocation(w.conn, spec.name, key)
            if existing is None:
                raise ApprovalReused(f"approval '{approval_id}' already authorised a call")
            if existing["arguments_hash"] != row["arguments_hash"]:
                raise IdempotencyConflict(spec.name, key)
            row = existing
        w.emit(
            "ToolCallStarted",
            {
                "step": step,
                "tool_call_id": row["tool_call_id"],
                "tool": spec.name,
                "idempotency_key": key,
                "approval_id": approval_id,
            },
        )
        return spec, row

    async def _carry_out(
        self,
        lease: Lease,
        row: dict[str, Any],
        state: dict[str, Any],
        step: int,
        outcome: tuple[ToolSpec, dict[str, Any]] | bool | None,
        model_call: dict[str, Any] | None,
    ) -> bool:
        """Act on a committed decision: a started invocation runs; None waits for approval."""
        if outcome is None:
            self._boundary(WAITING_FOR_APPROVAL, row["run_id"], step)
            return False
        if isinstance(outcome, bool):
            return outcome
        spec, invocation = outcome
        self._boundary(AFTER_DECISION, row["run_id"], step)
        return await self._execute(lease, row, state, step, spec, invocation, model_call)

    async def _execute(
        self,
        lease: Lease,
        row: dict[str, Any],
        state: dict[str, Any],
        step: int,
        spec: ToolSpec,
        invocation: dict[str, Any],
        model_call: dict[str, Any] | None,
    ) -> bool:
        if invocation["status"] in ("succeeded", "failed"):
            stored = invocation["result_json"] or invocation["error_json"] or {}
            result = ToolResult(**stored)
            replayed = True
            span_event("tool.replayed", tool_attributes.tool_call(spec, invocation))
        else:
            ctx = ToolContext(
                tenant_id=row["tenant_id"],
                user_id=row["user_id"],
                run_id=row["run_id"],
                step=step,
                idempotency_key=invocation["idempotency_key"],
                engine=self.engine,
                approval_id=invocation["approval_id"],
            )
            attrs = tool_attributes.tool_call(spec, invocation)
            with run_span("tool.call", row["run_id"], attrs) as span:
                result = await self.gate.execute(spec, invocation["arguments_json"], ctx)
                span.set_attributes(tool_attributes.tool_outcome(result))
            replayed = False
        self._boundary(AFTER_TOOL, row["run_id"], step)
        return self._record_result(
            lease, row, state, step, spec, invocation, result, model_call, replayed
        )

    def _record_result(
        self,
        lease: Lease,
        row: dict[str, Any],
        state: dict[str, Any],
        step: int,
        spec: ToolSpec,
        invocation: dict[str, Any],
        result: ToolResult,
        model_call: dict[str, Any] | None,
        replayed: bool,
    ) -> bool:
        payload = result.model_dump(mode="json")
        ok = result.status == "succeeded"
        tool_call = {
            "tool": spec.name,
            "arguments": invocation["arguments_json"],
            "idempotency_key": invocation["idempotency_key"],
            "tool_call_id": invocation["tool_call_id"],
        }

        def record(w: RunWriter) -> bool:
            if not replayed:
                w.conn.execute(
                    FINISH_INVOCATION,
                    {
                        "b_id": invocation["tool_call_id"],
                        "b_status": "succeeded" if ok else "failed",
                        "b_at": w.now,
                        "b_result": payload if ok else None,
                        "b_error": None if ok else payload,
                    },
                )
            kind = "ToolCallSucceeded" if ok else "ToolCallFailed"
            w.emit(
                "ToolCallReplayed" if replayed else kind,
                {
                    "step": step,
                    "tool_call_id": invocation["tool_call_id"],
                    "tool": spec.name,
                    "status": result.status,
                    "error_type": result.error_type,
                    "message": result.message[:500],
                    "attempts": result.attempts,
                    "duration_ms": result.duration_ms,
                },
            )
            if w.status in TERMINAL:
                return False
            after = _add(state, "tool", json.dumps(payload, default=str), name=spec.name)
            write_checkpoint(
                w, step, after, model_call=model_call, tool_call=tool_call, tool_result=payload
            )
            return start_next_step(w)

        # Losing this commit re-executes the call under the same key: harmless unless the
        # tool cannot be replayed.
        more, _ = self._write(lease, row, record, durable=spec.idempotency == Idempotency.UNSAFE)
        return more

    async def _finish_interrupted_tool(self, lease: Lease, snap: Snapshot) -> bool:
        """A worker died while a tool call was in progress: its durable state decides."""
        run = snap.run
        step = int(run["current_step"])
        with self.reader.connect() as conn:
            inv = (
                conn.execute(
                    select(INVOCATIONS)
                    .where(INVOCATIONS.c.run_id == run["run_id"], INVOCATIONS.c.step == step)
                    .order_by(INVOCATIONS.c.started_at.desc())
                )
                .mappings()
                .first()
            )
        if inv is None:
            self._fail(lease, "a tool call was in progress but no invocation was recorded")
            return False
        invocation = dict(inv)
        state = absorb_inbox(snap.state, snap.inbox)
        spec = self._spec_or_none(invocation["tool_name"])
        if spec is None:
            result = ToolResult.fail("unknown_tool", f"{invocation['tool_name']} is gone")
            gone = _missing_spec(invocation["tool_name"])
            return self._record_result(
                lease, run, state, step, gone, invocation, result, None, False
            )
        if invocation["status"] == "running" and spec.idempotency == Idempotency.UNSAFE:
            result = ToolResult.fail(
                "outcome_unknown",
                f"{spec.name} may or may not have run before a worker stopped; check before "
                "trying again",
            )
            return self._record_result(
                lease, run, state, step, spec, invocation, result, None, False
            )
        if invocation["status"] == "running":
            with self.engine.begin() as conn:
                conn.execute(
                    update(INVOCATIONS)
                    .where(INVOCATIONS.c.tool_call_id == invocation["tool_call_id"])
                    .values(attempts=INVOCATIONS.c.attempts + 1)
                )
        return await self._execute(lease, run, state, step, spec, invocation, None)

    async def _execute_approved(
        self,
        lease: Lease,
        run: dict[str, Any],
        state: dict[str, Any],
        granted: dict[str, Any],
        deferrals: int = 0,
    ) -> bool:
        """Execute exactly the call the person approved (never asking the model again)."""
        step = int(run["current_step"])
        with self.reader.connect() as conn:
            approval = dict(
                conn.execute(
                    select(APPROVALS).where(
                        APPROVALS.c.approval_id == granted["approval_id"],
                        APPROVALS.c.run_id == run["run_id"],
                        APPROVALS.c.tenant_id == run["tenant_id"],
                        APPROVALS.c.user_id == run["user_id"],
                    )
                )
                .mappings()
                .one()
            )
        args = approval["arguments_json"]
        scopes = self.scopes_for(run["tenant_id"], run["user_id"])
        verdict = self.gate.judge(
            run["tenant_id"],
            run["user_id"],
            approval["tool_name"],
            args,
            scopes,
            approved=True,
            call_id=deferred_call_id(run["run_id"], approval["tool_name"], args),
        )

        def record(w: RunWriter) -> tuple[ToolSpec, dict[str, Any]] | bool:
            if w.status != S.PLANNING:
                return False
            proposed = {
                "step": step,
                "tool": approval["tool_name"],
                "arguments": args,
                "approval_id": approval["approval_id"],
                "verdict": verdict.as_event(),
            }
            w.emit(
                "ToolCallProposed", {**proposed, "deferrals": deferrals} if deferrals else proposed
            )
            if approval["status"] == "approved" and verdict.outcome == "deny":
                call = DeferredCall(
                    approval["tool_name"], args, None, approval["approval_id"], deferrals
                )
                return self._defer_or_deny(w, state, step, call, verdict, None)
            if approval["status"] != "approved" or verdict.outcome != "allow":
                reason = verdict.reason or f"approval is {approval['status']}"
                denied = Verdict("deny", verdict.spec, verdict.error_type or "not_approved", reason)
                return self._denied(w, state, step, approval["tool_name"], denied, None)
            assert verdict.spec is not None
            return self.start_invocation(w, step, verdict.spec, args, approval["approval_id"])

        started, row = self._write(lease, run, record)
        return await self._carry_out(lease, row, state, step, started, None)

    def _fail(
        self,
        lease: Lease,
        reason: str,
        calls: list[ModelCallRecord] | None = None,
        task_type: str = "decision",
    ) -> None:
        with self.engine.begin() as conn:
            w = RunWriter.open(conn, lease.run_id, lease.token)
            if w.status not in TERMINAL:
                if calls:
                    record_model_calls(
                        conn,
                        tenant_id=w.view["tenant_id"],
                        user_id=w.view["user_id"],
                        run_id=lease.run_id,
                        step=int(w.view["current_step"]),
                        task_type=task_type,
                        calls=calls,
                    )
                w.emit("RunFailed", {"reason": reason})
                w.flush()


class IdempotencyConflict(Exception):
    """The same idempotency key was used with different arguments."""

    def __init__(self, tool: str, key: str) -> None:
        super().__init__(f"idempotency key '{key}' of {tool} was used with other arguments")


class ApprovalReused(Exception):
    """An approval that already authorised an execution was presented again."""


def find_invocation(conn: Connection, tool: str, key: str) -> dict[str, Any] | None:
    """The invocation recorded under (tool, key), if any."""
    row = (
        conn.execute(
            select(INVOCATIONS).where(
                INVOCATIONS.c.tool_name == tool, INVOCATIONS.c.idempotency_key == key
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def start_next_step(w: RunWriter) -> bool:
    """Move a queued run into its next step, or fail it when a limit is reached."""
    if w.status != S.QUEUED:
        return False
    view = w.view
    step = int(view["current_step"]) + 1
    if step > int(view["max_steps"]):
        w.emit("RunFailed", {"reason": f"step limit reached ({view['max_steps']} steps)"})
        return False
    if w.now > _aware(view["deadline_at"], w.now):
        w.emit("RunFailed", {"reason": f"wall-clock limit reached ({view['max_wall_seconds']} s)"})
        return False
    w.emit("StepStarted", {"step": step})
    return True


def relax_commit(conn: Connection) -> None:
    """Let this transaction's commit return before its WAL is flushed (Postgres only)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def write_checkpoint(
    w: RunWriter,
    step: int,
    state: dict[str, Any],
    *,
    pending: dict[str, Any] | None = None,
    model_call: dict[str, Any] | None = None,
    tool_call: dict[str, Any] | None = None,
    tool_result: dict[str, Any] | None = None,
) -> str:
    """Write the step's checkpoint and its CheckpointWritten event."""
    checkpoint_id = new_id("ckp")
    # The event that records this checkpoint is the last one the state has absorbed.
    state = dict(state, event_seq=int(w.view["last_event_seq"]) + 1, step=step)
    attrs: dict[str, int | str] = {"baton.step": step, "baton.checkpoint.id": checkpoint_id}
    with run_span("checkpoint.write", w.view["run_id"], attrs) as span:
        w.conn.execute(
            INSERT_CHECKPOINT,
            {
                "checkpoint_id": checkpoint_id,
                "run_id": w.view["run_id"],
                "step": step,
                "state_json": state,
                "pending_action_json": pending,
                "model_call_json": model_call,
                "tool_call_json": tool_call,
                "tool_result_json": tool_result,
                "state_hash": hash_json(state),
                "created_at": w.now,
            },
        )
        span.set_attribute("baton.checkpoint.pending", pending is not None)
    w.emit("CheckpointWritten", {"checkpoint_id": checkpoint_id, "step": step})
    return checkpoint_id


def _aware(at: datetime, like: datetime) -> datetime:
    """``at`` with ``like``'s time zone when it was stored without one (SQLite)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=like.tzinfo)


def deferred_call_id(run_id: str, tool: str, arguments: dict[str, Any]) -> str:
    """The name under which the gate keeps a deferred call's place in line."""
    return f"{run_id}:{tool}:{hash_json(arguments)[:16]}"


@dataclass(frozen=True)
class DeferredCall:
    """A tool call that waits for the gate to let it through (the checkpoint's pending
    action), with the times it already waited."""

    tool: str
    arguments: dict[str, Any]
    reason: str | None
    approval_id: str | None
    deferrals: int

    def as_pending(self) -> dict[str, Any]:
        """The checkpoint's pending action."""
        return {
            "type": DEFERRED_CALL,
            "tool": self.tool,
            "arguments": self.arguments,
            "reason": self.reason,
            "approval_id": self.approval_id,
            "deferrals": self.deferrals,
        }

    @classmethod
    def from_pending(cls, pending: dict[str, Any]) -> DeferredCall:
        """Read back what :meth:`as_pending` wrote."""
        return cls(
            tool=str(pending["tool"]),
            arguments=dict(pending["arguments"]),
            reason=pending.get("reason"),
            approval_id=pending.get("approval_id"),
            deferrals=int(pending.get("deferrals", 0)),
        )


def approval_question(tool: str, arguments: dict[str, Any]) -> str:
    """One clear yes/no question naming the action and its key argument."""
    key_arg = next((str(v) for v in arguments.values() if isinstance(v, str | int | float)), "")
    action = tool.replace("_", " ").replace(".", " ")
    return f"Should I {action}{' for ' + key_arg if key_arg else ''}?"


def initial_state(run: dict[str, Any]) -> dict[str, Any]:
    """The step state of a run that has no checkpoint yet: its goal as the first message."""
    meta = run.get("meta") or {}
    messages: list[dict[str, Any]] = []
    if run.get("parent_run_id"):
        messages.append({"role": "user", "content": str(meta.get("parent_goal", ""))})
        if meta.get("parent_result"):
            messages.append({"role": "assistant", "content": str(meta["parent_result"])})
    messages.append({"role": "user", "content": run["goal"]})
    return {"goal": run["goal"], "messages": messages, "decisions": 0, "event_seq": 0}


def absorb_inbox(state: dict[str, Any], inbox: list[dict[str, Any]]) -> dict[str, Any]:
    """``state`` with the events since its checkpoint (messages, decisions, answers) folded in."""
    for e in inbox:
        data = e["data"] or {}
        if e["type"] == "DecisionRecorded":
            state = dict(state, decisions=int(state.get("decisions", 0)) + 1)
        elif e["type"] == "UserMessageReceived":
            state = _add(state, "user", data["text"])
        elif e["type"] == "ApprovalDenied":
            denied = {
                "status": "denied",
                "error_type": "denied_by_user",
                "message": f"the person said no to {data.get('tool')}",
            }
            state = _add(state, "tool", json.dumps(denied), name=str(data.get("tool")))
    return state


def _add(state: dict[str, Any], role: str, content: str, name: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": role, "content": content}
    if name:
        message["name"] = name
    return dict(state, messages=[*state.get("messages", []), message])


def _decision_event(result: AgentResult) -> dict[str, Any]:
    event = {
        "decision": result.decision.model_dump(),
        "models": [c.model for c in result.calls],
        "cost_usd": sum(c.cost_usd for c in result.calls),
    }
    if result.understanding is not None:
        event["understanding"] = result.understanding.model_dump(mode="json")
    return event


def _missing_spec(name: str) -> ToolSpec:
    async def _gone(_args: dict[str, Any], _ctx: ToolContext) -> Any:
        raise RuntimeError(f"{name} is not registered")

    return ToolSpec(name=name, description="unregistered", fn=_gone)
