"""Running suites: every case against its own fresh store, then each suite's gate.

Cases about model decisions go to the parser-first agent over the configured gateway (the
embedded offline model by default); with --quick only the cases marked quick run, and the
parser must decide them alone (no model inference).
"""

from __future__ import annotations

from collections.abc import Callable

from core.config import Settings, get_settings
from core.evals.checks import Observed, failures
from core.evals.harness import EvalSession, case_agent, context_refs, drive, start_run
from core.evals.report import CaseResult, Report, SuiteResult
from core.evals.resume import run_resume_case
from core.evals.suite import Case, Suite, SuiteKind
from core.evals.understanding import run_understanding
from models.contract import Agent

Progress = Callable[[str, CaseResult], None]


class ModelSource:
    """The gateway agent, built the first time a case needs a model (never with --quick)."""

    def __init__(self, settings: Settings, quick: bool) -> None:
        self.settings = settings
        self.quick = quick
        self._agent: Agent | None = None

    def get(self) -> Agent | None:
        """The model agent behind the parser, or None in quick mode."""
        if self.quick:
            return None
        if self._agent is None:
            from core.agent.factory import build_agent

            gateway = self.settings.model_copy(
                update={"agent": "gateway", "understanding": "model_only"}
            )
            self._agent = build_agent(gateway)
        return self._agent


def run_case(session: EvalSession, suite: Suite, case: Case, models: ModelSource) -> CaseResult:
    """Run one decision case (golden, tool use, safety, memory) and check it."""
    with session.case_store(case.seed) as cs:
        run_id = start_run(cs, case)
        model = models.get() if case.script is None else None
        try:
            driven = drive(cs, run_id, case_agent(case, cs, model), cs.gate(), approve=case.approve)
        except Exception as exc:  # a crashing step is this case's failure, not the session's
            reason = f"a step crashed: {type(exc).__name__}: {exc}"
            return CaseResult(id=case.id, passed=False, reasons=[reason])
        seen = Observed.of(driven, context_refs(cs, run_id))
        reasons = failures(
            case.expect,
            case.budget,
            seen,
            cs.memory_ids,
            safety=suite.header.kind == SuiteKind.SAFETY,
        )
        failed = driven.run.get("failure_reason")
        if failed and case.expect.status != "failed":
            reasons.insert(0, f"the run failed: {failed}")
    return CaseResult(
        id=case.id,
        passed=not reasons,
        reasons=reasons,
        latency_ms=round(seen.latency_ms, 1),
        cost_usd=seen.cost_usd,
    )


def run_suite(
    session: EvalSession, suite: Suite, quick: bool, models: ModelSource, progress: Progress
) -> SuiteResult:
    """Every case of one suite (the quick ones with --quick)."""
    header = suite.header
    results: list[CaseResult] = []
    if header.kind == SuiteKind.UNDERSTANDING:
        results = run_understanding(header, quick)
        for r in results:
            progress(suite.name, r)
    else:
        for case in suite.cases:
            if quick and not case.quick:
                continue
            if header.kind == SuiteKind.RESUME:
                result = run_resume_case(session, case, models.get())
            else:
                result = run_case(session, suite, case, models)
            progress(suite.name, result)
            results.append(result)
    return SuiteResult(
        suite=suite.name, kind=header.kind, threshold=header.threshold, cases=results
    )


def run_suites(
    suites: list[Suite],
    *,
    quick: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> Report:
    """Run the suites and return the report (the caller decides the exit code from it)."""
    settings = settings or get_settings()
    session = EvalSession(settings)
    models = ModelSource(settings, quick)
    try:
        done = [
            run_suite(session, s, quick, models, progress or (lambda _s, _r: None)) for s in suites
        ]
    finally:
        session.close()
    return Report(quick=quick, suites=done)
