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

This module only orchestrates: each write goes through the one writer of its table (the run
log, the invocation ledger, the approvals ledger, checkpoints), each write's body returns an
explicit :data:`Outcome`, and the run's limits are checked where they are spent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, select

from core.agent.accounting import budget_for, record_model_calls
from core.agent.checkpoints import CHECKPOINTS, relax_commit, write_checkpoint
from core.agent.deferred_calls import DeferredCall, deferred_call_id, is_deferred
from core.agent.invocation_ledger import (
    idempotency_key,
    latest_at_step,
    record_result,
    record_retry,
    record_start,
)
from core.agent.run_limits import deadline, start_next_step, tool_call_allowed
from core.agent.step_state import (
    INBOX_TYPES,
    absorb_inbox,
    add_message,
    counted_decision,
    initial_state,
)
from core.config import get_settings
from core.context.assemble import ContextBudgetExceeded, assemble_context
from core.metrics.runs import step_written
from core.profiles import profile_for
from core.runs.approval_ledger import APPROVALS, default_question, request_approval
from core.runs.events import EventType as E
from core.runs.log import EVENTS, RUNS, RunWriter, StaleView
from core.runs.states import TERMINAL, RunStatus
from core.store.db import reader
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
S = RunStatus

# Boundary names a test or tracer can observe (the crash tests SIGKILL the worker there).
BEFORE_MODEL = "before_model"
AFTER_DECISION = "after_decision"
AFTER_TOOL = "after_tool"
WAITING_FOR_APPROVAL = "waiting_for_approval"
Observer = Callable[[str, str, int], None]


class Settled(Enum):
    """Where a committed write left the run, when it started no tool call."""

    NEXT_STEP = "next_step"  # queued, and its next step already started
    STOPPED = "stopped"  # finished, failed, waiting for a person's words or for the gate
    AWAITS_APPROVAL = "awaits_approval"

    @classmethod
    def of(cls, more: bool) -> Settled:
        """NEXT_STEP when another step started, else STOPPED."""
        return cls.NEXT_STEP if more else cls.STOPPED


@dataclass(frozen=True)
class RunTool:
    """A tool call recorded in the ledger and ready to execute (or to replay its result)."""

    spec: ToolSpec
    invocation: dict[str, Any]


Outcome = Settled | RunTool


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
        granted = [e for e in snap.inbox if e["type"] == E.APPROVAL_GRANTED]
        if granted:
            return await self._execute_approved(lease, run, state, granted[-1]["data"])
        if snap.pending is not None and is_deferred(snap.pending):
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
        state = counted_decision(state)
        model_call = {
            "decision": decision.model_dump(),
            "refs": pack.refs,
            "calls": [c.model_dump() for c in result.calls],
        }
        # Only a call whose effect cannot be observed may be acknowledged before it is on disk.
        spec = self._spec_or_none(decision.tool) if isinstance(decision, ToolCallDecision) else None
        durable = spec is None or spec.idempotency != Idempotency.SAFE

        def record(w: RunWriter) -> Outcome:
            if w.status != S.PLANNING:
                return Settled.STOPPED
            w.emit(E.MODEL_CALLED, {"step": step, "task_type": pack.task_type})
            w.emit(E.DECISION_RECORDED, {"step": step, **_decision_event(result)})
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
                    E.MEMORY_WRITE_PROPOSED,
                    {**decision.model_dump(), "source": {"run_id": run["run_id"], "step": step}},
                )
                noted = add_message(state, "assistant", f"(noted for memory: {decision.content})")
                write_checkpoint(w, step, noted, model_call=model_call)
                return Settled.of(start_next_step(w))
            text = decision.question if isinstance(decision, AskHumanDecision) else decision.message
            write_checkpoint(w, step, add_message(state, "assistant", text), model_call=model_call)
            if isinstance(decision, RespondDecision):
                w.emit(E.RUN_COMPLETED, {"result": text})
            else:
                w.emit(E.HUMAN_INPUT_REQUESTED, {"question": text})
            return Settled.STOPPED

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
    ) -> Outcome:
        """Judge a proposed call: run it now, ask a person first, let it wait for the gate,
        or hand the refusal to the agent. ``deferrals`` counts the times this same decision
        already waited (a retry)."""
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
        w.emit(E.TOOL_CALL_PROPOSED, _with_deferrals(proposed, deferrals))
        span_event("tool.proposed", tool_attributes.tool_verdict(decision.tool, verdict))
        if verdict.outcome == "deny":
            call = DeferredCall(decision.tool, decision.arguments, decision.reason, None, deferrals)
            return self._defer_or_deny(w, state, step, call, verdict, model_call)
        if not tool_call_allowed(w):
            return Settled.STOPPED
        assert verdict.spec is not None
        if verdict.outcome == "approve":
            self._ask_approval(w, state, step, decision, verdict.spec, model_call)
            return Settled.AWAITS_APPROVAL
        return self._start_tool(w, step, verdict.spec, decision.arguments, None)

    def _ask_approval(
        self,
        w: RunWriter,
        state: dict[str, Any],
        step: int,
        decision: ToolCallDecision,
        spec: ToolSpec,
        model_call: dict[str, Any] | None,
    ) -> None:
        question = spec.approval_question(decision.arguments) or default_question(
            decision.tool, decision.arguments
        )
        approval_id = request_approval(
            w.conn,
            w.view,
            step,
            decision.tool,
            decision.arguments,
            int(spec.risk_level),
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
            E.APPROVAL_REQUESTED,
            {
                "approval_id": approval_id,
                "tool": decision.tool,
                "arguments": decision.arguments,
                "question": question,
                "risk_level": int(spec.risk_level),
            },
        )
        span_event("approval.requested", {"baton.approval.id": approval_id})

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

        def record(w: RunWriter) -> Outcome:
            if w.status != S.PLANNING:
                return Settled.STOPPED
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
    ) -> Settled:
        """Put a retryable denial off until the wait the gate named (the run goes back to
        the queue and keeps the call as its pending action); any other denial, or one that
        waited too often or would outlive the run, is handed to the agent."""
        retry_at = w.now + timedelta(seconds=verdict.retry_after_s or 0.0)
        if (
            not verdict.retryable
            or call.deferrals >= get_settings().tool_max_deferrals
            or retry_at > deadline(w)
        ):
            return self._denied(w, state, step, call.tool, verdict, model_call)
        waiting = replace(call, deferrals=call.deferrals + 1)
        write_checkpoint(w, step, state, pending=waiting.as_pending(), model_call=model_call)
        w.emit(
            E.TOOL_CALL_DEFERRED,
            {
                "step": step,
                "tool": call.tool,
                "error_type": verdict.error_type,
                "reason": verdict.reason,
                "retry_at": retry_at.isoformat(),
                "deferrals": waiting.deferrals,
            },
        )
        return Settled.STOPPED

    def _denied(
        self,
        w: RunWriter,
        state: dict[str, Any],
        step: int,
        tool: str,
        verdict: Verdict,
        model_call: dict[str, Any] | None,
    ) -> Settled:
        result = ToolResult(
            status="denied", error_type=verdict.error_type, message=verdict.reason
        ).model_dump()
        w.emit(E.TOOL_CALL_DENIED, {"step": step, "tool": tool, "verdict": verdict.as_event()})
        state = add_message(state, "tool", json.dumps(result), name=tool)
        write_checkpoint(w, step, state, model_call=model_call, tool_result=result)
        return Settled.of(start_next_step(w))

    def _start_tool(
        self,
        w: RunWriter,
        step: int,
        spec: ToolSpec,
        arguments: dict[str, Any],
        approval_id: str | None,
    ) -> RunTool:
        """Record a call in the ledger before it executes, and say so in the run's log."""
        run = w.view
        key = idempotency_key(run["run_id"], step, spec.name, arguments)
        row = record_start(w.conn, run, step, spec.name, arguments, approval_id, key, w.now)
        w.emit(
            E.TOOL_CALL_STARTED,
            {
                "step": step,
                "tool_call_id": row["tool_call_id"],
                "tool": spec.name,
                "idempotency_key": key,
                "approval_id": approval_id,
            },
        )
        return RunTool(spec, row)

    async def _carry_out(
        self,
        lease: Lease,
        row: dict[str, Any],
        state: dict[str, Any],
        step: int,
        outcome: Outcome,
        model_call: dict[str, Any] | None,
    ) -> bool:
        """Act on a committed decision: a started invocation runs; anything else is settled."""
        if outcome is Settled.AWAITS_APPROVAL:
            self._boundary(WAITING_FOR_APPROVAL, row["run_id"], step)
            return False
        if isinstance(outcome, Settled):
            return outcome is Settled.NEXT_STEP
        self._boundary(AFTER_DECISION, row["run_id"], step)
        return await self._execute(lease, row, state, step, outcome, model_call)

    async def _execute(
        self,
        lease: Lease,
        row: dict[str, Any],
        state: dict[str, Any],
        step: int,
        call: RunTool,
        model_call: dict[str, Any] | None,
    ) -> bool:
        spec, invocation = call.spec, call.invocation
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
        return self._record_result(lease, row, state, step, call, result, model_call, replayed)

    def _record_result(
        self,
        lease: Lease,
        row: dict[str, Any],
        state: dict[str, Any],
        step: int,
        call: RunTool,
        result: ToolResult,
        model_call: dict[str, Any] | None,
        replayed: bool,
    ) -> bool:
        spec, invocation = call.spec, call.invocation
        payload = result.model_dump(mode="json")
        tool_call = {
            "tool": spec.name,
            "arguments": invocation["arguments_json"],
            "idempotency_key": invocation["idempotency_key"],
            "tool_call_id": invocation["tool_call_id"],
        }

        def record(w: RunWriter) -> bool:
            if not replayed:
                record_result(w.conn, invocation["tool_call_id"], result, w.now)
            ended = E.TOOL_CALL_SUCCEEDED if result.status == "succeeded" else E.TOOL_CALL_FAILED
            w.emit(
                E.TOOL_CALL_REPLAYED if replayed else ended,
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
            after = add_message(state, "tool", json.dumps(payload, default=str), name=spec.name)
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
            invocation = latest_at_step(conn, run["run_id"], step)
        if invocation is None:
            self._fail(lease, "a tool call was in progress but no invocation was recorded")
            return False
        state = absorb_inbox(snap.state, snap.inbox)
        spec = self._spec_or_none(invocation["tool_name"])
        if spec is None:
            result = ToolResult.fail("unknown_tool", f"{invocation['tool_name']} is gone")
            gone = RunTool(_missing_spec(invocation["tool_name"]), invocation)
            return self._record_result(lease, run, state, step, gone, result, None, False)
        call = RunTool(spec, invocation)
        if invocation["status"] == "running" and spec.idempotency == Idempotency.UNSAFE:
            result = ToolResult.fail(
                "outcome_unknown",
                f"{spec.name} may or may not have run before a worker stopped; check before "
                "trying again",
            )
            return self._record_result(lease, run, state, step, call, result, None, False)
        if invocation["status"] == "running":
            with self.engine.begin() as conn:
                record_retry(conn, invocation["tool_call_id"])
        return await self._execute(lease, run, state, step, call, None)

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

        def record(w: RunWriter) -> Outcome:
            if w.status != S.PLANNING:
                return Settled.STOPPED
            proposed = {
                "step": step,
                "tool": approval["tool_name"],
                "arguments": args,
                "approval_id": approval["approval_id"],
                "verdict": verdict.as_event(),
            }
            w.emit(E.TOOL_CALL_PROPOSED, _with_deferrals(proposed, deferrals))
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
            return self._start_tool(w, step, verdict.spec, args, approval["approval_id"])

        outcome, row = self._write(lease, run, record)
        return await self._carry_out(lease, row, state, step, outcome, None)

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
                w.emit(E.RUN_FAILED, {"reason": reason})
                w.flush()


def _with_deferrals(proposed: dict[str, Any], deferrals: int) -> dict[str, Any]:
    # A first proposal's event stays as it always was; a retried one counts its waits.
    return {**proposed, "deferrals": deferrals} if deferrals else proposed


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
