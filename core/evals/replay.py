"""Replay: re-decide a recorded run's steps with the current agent and compare the decisions.

Each recorded decision is re-made from the same inputs the step had: the run as its events
had folded it just before the decision, the latest checkpointed state before it with the
inbox since (the recorded tool results are in that state), the tools the user may use and
the context pack built from them. Nothing is executed and nothing is written: the agent reads
the store through a read-only connection, and the run's log is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import DBAPIError

from core.agent.accounting import budget_for
from core.agent.step_state import INBOX_TYPES, absorb_inbox, initial_state
from core.config import Settings, get_settings
from core.context.assemble import ContextBudgetExceeded, assemble_context
from core.errors import InvalidInput
from core.profiles import profile_for
from core.runs.projection import rebuild
from core.runs.service import RunStore
from core.store.db import make_engine, reader
from core.store.tables import Checkpoint
from core.tools.gate import ToolGate
from models.contract import Agent, AgentError, ContextPack, ToolSchema

CHECKPOINTS = Checkpoint.__table__  # type: ignore[attr-defined]
# Free text that explains a decision without being part of it.
_NOT_COMPARED = ("reason",)


@dataclass(frozen=True)
class StepReplay:
    """One recorded decision next to the one the current agent makes from the same inputs."""

    step: int
    recorded: dict[str, Any]
    replayed: dict[str, Any] | None
    error: str | None = None

    @property
    def same(self) -> bool:
        """Whether the two decisions agree (the explanatory ``reason`` aside)."""
        return self.replayed is not None and _core(self.recorded) == _core(self.replayed)

    def as_json(self) -> dict[str, Any]:
        """The comparison for --json."""
        return {
            "step": self.step,
            "recorded": self.recorded,
            "replayed": self.replayed,
            "same": self.same,
            "error": self.error,
        }


def _core(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k not in _NOT_COMPARED and v is not None}


def read_only_engine(url: str) -> Engine:
    """An engine on ``url`` whose sessions refuse every write (what the replayed agent reads
    through: a parser-decided "forget that" must not delete a memory again)."""
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("PRAGMA query_only = ON")
        else:
            cur.execute("SET default_transaction_read_only = on")
        cur.close()
        if engine.dialect.name != "sqlite":
            dbapi_conn.commit()

    return reader(engine)


def with_model(settings: Settings, name: str) -> Settings:
    """``settings`` with every task routed to the configured model ``name``."""
    from core.agent.factory import EMBEDDED, gateway_config

    known = [m.name for m in gateway_config(settings).models]
    if name != EMBEDDED and name not in known:
        listed = ", ".join([*known, EMBEDDED])
        raise InvalidInput(f"no configured model '{name}' (configured: {listed})")
    return settings.model_copy(update={"agent": "gateway", "model_routes": {"*": [name]}})


class Replayer:
    """Re-decides recorded steps: ``engine`` holds the run, ``agent`` decides again."""

    def __init__(
        self,
        engine: Engine,
        agent: Agent,
        gate: ToolGate,
        scopes: set[str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.engine = engine
        self.agent = agent
        self.gate = gate
        self.scopes = scopes
        self.settings = settings or get_settings()

    async def replay(self, tenant_id: str, user_id: str, run_id: str) -> list[StepReplay]:
        """Every decision of the run, recorded and replayed; NotFound for a run that is not
        this user's."""
        events = RunStore(self.engine, self.settings).events(tenant_id, user_id, run_id, limit=5000)
        states = self._checkpoint_states(run_id)
        steps: list[StepReplay] = []
        for i, e in enumerate(events):
            if e["type"] != "DecisionRecorded":
                continue
            cut = i - 1 if i and events[i - 1]["type"] == "ModelCalled" else i
            prior = events[:cut]
            recorded = dict(e["data"]["decision"])
            step = int(e["data"].get("step") or 0)
            try:
                pack = self._pack(prior, states)
            except ContextBudgetExceeded as exc:
                steps.append(StepReplay(step, recorded, None, f"the context does not fit: {exc}"))
                continue
            try:
                result = await self.agent.decide(pack)
            except AgentError as exc:
                steps.append(StepReplay(step, recorded, None, f"the agent could not decide: {exc}"))
                continue
            except DBAPIError as exc:
                # The agent reads through a read-only connection; a write it tries lands here.
                why = f"the agent's store access failed (replay is read-only): {exc.orig}"
                steps.append(StepReplay(step, recorded, None, why))
                continue
            steps.append(StepReplay(step, recorded, result.decision.model_dump()))
        return steps

    def _checkpoint_states(self, run_id: str) -> dict[str, dict[str, Any]]:
        # Only called after the run was found in the caller's scope.
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(CHECKPOINTS.c.checkpoint_id, CHECKPOINTS.c.state_json).where(
                    CHECKPOINTS.c.run_id == run_id
                )
            )
            return {str(r.checkpoint_id): dict(r.state_json) for r in rows}

    def _pack(self, prior: list[dict[str, Any]], states: dict[str, dict[str, Any]]) -> ContextPack:
        """The context pack the step built before the decision that follows ``prior``."""
        run = dict(rebuild(prior))
        written = [e for e in prior if e["type"] == "CheckpointWritten"]
        if written:
            state = dict(states[str(written[-1]["data"]["checkpoint_id"])])
        else:
            state = initial_state(run)
        after = int(state.get("event_seq", 0))
        inbox = [e for e in prior if e["seq"] > after and e["type"] in INBOX_TYPES]
        state = absorb_inbox(state, inbox)
        visible = self.gate.visible_tools(run["tenant_id"], run["user_id"], self.scopes)
        tools = [ToolSchema(**t.schema_for_model()) for t in visible]
        with self.engine.connect() as conn:
            budget = budget_for(
                conn, self.settings, tenant_id=run["tenant_id"], run_id=run["run_id"]
            )
            return assemble_context(
                conn,
                run=run,
                state=state,
                tools=tools,
                profile=profile_for(run["channel"]),
                budget=budget,
                token_budget=self.settings.context_default_tokens,
            )
