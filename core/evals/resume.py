"""Resume cases: a run stopped dead at every step boundary finishes like an uninterrupted one,
with each side effect once.

The stop happens in this process: the step's observer raises at the boundary and the lease is
left taken, as a killed worker leaves it (with a lease that expires at once, so the next
worker takes the run over without waiting). Then a fresh runner, as another worker would,
picks the run up from the store alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Table, func, select

from core.agent.step import Observer
from core.evals.harness import (
    TENANT,
    USER,
    CaseStore,
    Crash,
    EvalSession,
    case_agent,
    drive,
    start_run,
)
from core.evals.report import CaseResult
from core.evals.suite import Case
from core.store.tables import ToolInvocation
from core.tools.builtin.tables import CalendarEvent, EmailDraft, Note
from models.contract import Agent

INVOCATIONS = ToolInvocation.__table__  # type: ignore[attr-defined]
# The built-in tools' own records of what they did: one row per effect.
EFFECT_TABLES = {
    "notes": Note.__table__,  # type: ignore[attr-defined]
    "meetings": CalendarEvent.__table__,  # type: ignore[attr-defined]
    "drafts": EmailDraft.__table__,  # type: ignore[attr-defined]
}


@dataclass(frozen=True)
class Outcome:
    """How a run ended and what it left behind."""

    status: str
    result: str | None
    decisions: tuple[str, ...]
    effects: tuple[tuple[str, int], ...]
    succeeded_calls: int


def _count(conn: Connection, table: Table, *where: ColumnElement[bool]) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _outcome(cs: CaseStore, run_id: str) -> Outcome:
    store = cs.store()
    run = store.get_run(TENANT, USER, run_id)
    events = store.events(TENANT, USER, run_id, limit=5000)
    with cs.engine.connect() as conn:
        effects = tuple(
            (name, _count(conn, t, t.c.tenant_id == TENANT, t.c.user_id == USER))
            for name, t in EFFECT_TABLES.items()
        )
        calls = _count(
            conn,
            INVOCATIONS,
            INVOCATIONS.c.tenant_id == TENANT,
            INVOCATIONS.c.user_id == USER,
            INVOCATIONS.c.run_id == run_id,
            INVOCATIONS.c.status == "succeeded",
        )
    decisions = tuple(str(e["data"]["decision"]) for e in events if e["type"] == "DecisionRecorded")
    return Outcome(str(run["status"]), run.get("result"), decisions, effects, calls)


def _crash_at(point: tuple[str, int, int]) -> Observer:
    seen: dict[tuple[str, int], int] = {}

    def observe(name: str, _run_id: str, step: int) -> None:
        seen[(name, step)] = seen.get((name, step), 0) + 1
        if (name, step, seen[(name, step)]) == point:
            raise Crash(f"{name} of step {step}")

    return observe


def run_resume_case(session: EvalSession, case: Case, model: Agent | None) -> CaseResult:
    """Run the case once to learn its boundaries, then once per boundary with a stop there."""
    points: list[tuple[str, int, int]] = []
    with session.case_store(case.seed) as cs:
        run_id = start_run(cs, case)

        def record(name: str, _run_id: str, step: int) -> None:
            n = sum(1 for p in points if p[:2] == (name, step)) + 1
            points.append((name, step, n))

        base = drive(
            cs, run_id, case_agent(case, cs, model), cs.gate(), record, approve=case.approve
        )
        expected = _outcome(cs, run_id)
    reasons: list[str] = []
    if not points:
        reasons.append("the run passed no step boundary to stop at")
    for point in points:
        where = f"stopped at {point[0]} of step {point[1]}"
        with session.case_store(case.seed) as cs:
            run_id = start_run(cs, case)
            agent = case_agent(case, cs, model)
            first = drive(
                cs,
                run_id,
                agent,
                cs.gate(),
                _crash_at(point),
                lease_ttl_s=0.0,
                approve=case.approve,
            )
            if not first.crashed:
                reasons.append(f"{where}: the stop never happened")
                continue
            drive(cs, run_id, case_agent(case, cs, model), cs.gate(), approve=case.approve)
            got = _outcome(cs, run_id)
        if got != expected:
            reasons.append(f"{where}: resumed to {_differs(expected, got)}")
    return CaseResult(
        id=case.id,
        passed=not reasons,
        reasons=reasons,
        latency_ms=base.latency_ms,
    )


def _differs(want: Outcome, got: Outcome) -> str:
    parts = [
        f"{name} {getattr(got, name)!r} instead of {getattr(want, name)!r}"
        for name in ("status", "result", "effects", "succeeded_calls")
        if getattr(got, name) != getattr(want, name)
    ]
    if got.decisions != want.decisions:
        parts.append("other decisions")
    return ", ".join(parts)
