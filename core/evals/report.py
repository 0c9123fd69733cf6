"""The results of an eval session: per case, per suite (with its gate) and overall."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.evals.suite import SuiteKind


class CaseResult(BaseModel):
    """One case: passed or not, and why not."""

    id: str
    passed: bool
    reasons: list[str] = Field(default_factory=list)
    latency_ms: float = 0.0
    cost_usd: float = 0.0


class SuiteResult(BaseModel):
    """One suite's cases and whether its gate holds."""

    suite: str
    kind: SuiteKind
    threshold: float
    cases: list[CaseResult]

    @property
    def passed_cases(self) -> int:
        """How many cases passed."""
        return sum(c.passed for c in self.cases)

    @property
    def pass_rate(self) -> float:
        """The share of cases that passed (0 for a suite without cases)."""
        return self.passed_cases / len(self.cases) if self.cases else 0.0

    @property
    def gate_passed(self) -> bool:
        """Whether the suite's pass rate reaches its threshold."""
        return bool(self.cases) and self.pass_rate >= self.threshold

    def gate_reason(self) -> str:
        """One sentence on the gate, naming the first failed cases when it fails."""
        rate = f"{self.passed_cases}/{len(self.cases)} passed ({self.pass_rate:.0%})"
        if self.gate_passed:
            return f"{rate}, threshold {self.threshold:.0%}"
        if not self.cases:
            return "no cases ran"
        failed = [c for c in self.cases if not c.passed][:3]
        detail = "; ".join(f"{c.id}: {c.reasons[0] if c.reasons else 'failed'}" for c in failed)
        return f"{rate}, below the threshold of {self.threshold:.0%} — {detail}"


class Report(BaseModel):
    """Every suite of one `baton eval`."""

    quick: bool
    suites: list[SuiteResult]

    @property
    def passed(self) -> bool:
        """Whether every gate holds."""
        return all(s.gate_passed for s in self.suites)

    def as_json(self) -> dict[str, object]:
        """The report for --json, with the derived rates and gate verdicts included."""
        return {
            "passed": self.passed,
            "quick": self.quick,
            "suites": [
                {
                    **s.model_dump(mode="json"),
                    "passed_cases": s.passed_cases,
                    "pass_rate": round(s.pass_rate, 4),
                    "gate": "pass" if s.gate_passed else "fail",
                    "reason": s.gate_reason(),
                }
                for s in self.suites
            ],
        }
