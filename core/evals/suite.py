"""Suite files: a JSON header line, then one case a line (JSONL), with an optional sidecar TOML.

The header names the suite's kind and its gate (the pass rate below which the release is
blocked); a sidecar ``<suite>.toml`` with a ``[suite]`` table overrides the header, so a gate
can be tightened without touching the cases.
"""

from __future__ import annotations

import json
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SUITES_DIR = Path(__file__).resolve().parent / "suites"


class SuiteKind(StrEnum):
    """What a suite checks, which decides how its cases are run."""

    GOLDEN = "golden"
    TOOL_USE = "tool_use"
    SAFETY = "safety"
    RESUME = "resume"
    MEMORY = "memory"
    UNDERSTANDING = "understanding"


class SuiteError(ValueError):
    """A suite that cannot be found or read; the message says which file and why."""


class Header(BaseModel):
    """The first line of a suite file."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    kind: SuiteKind
    threshold: float = Field(ge=0.0, le=1.0, description="Lowest pass rate that passes the gate")
    description: str = ""
    # Understanding suites only: the corpus folder (relative to the repository) and its split.
    corpus: str | None = None
    split: str = "tune"
    quick_cases: int = Field(default=20, ge=1, description="Corpus cases run with --quick")


class Memory(BaseModel):
    """A memory seeded into the case's store under a key the expectations refer to."""

    model_config = ConfigDict(extra="forbid")

    key: str
    content: str
    user: str = "alice"
    memory_type: str = "fact"
    # A memory that expired already (a task that is over): it must not enter a context.
    expired: bool = False


class Contact(BaseModel):
    """An address-book entry of the case's user."""

    model_config = ConfigDict(extra="forbid")

    name: str
    email: str | None = None
    user: str = "alice"


class Note(BaseModel):
    """A note the case's user kept (a tool result the agent will read)."""

    model_config = ConfigDict(extra="forbid")

    body: str
    title: str | None = None
    user: str = "alice"


class Seed(BaseModel):
    """What the case's fresh store holds before the run starts."""

    model_config = ConfigDict(extra="forbid")

    memories: list[Memory] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)


class Budget(BaseModel):
    """Limits on what a case may cost."""

    model_config = ConfigDict(extra="forbid")

    max_cost_usd: float | None = None
    max_latency_ms: float | None = None


class Expect(BaseModel):
    """What a case's run must show (every listed item is checked)."""

    model_config = ConfigDict(extra="forbid")

    tool: str | None = Field(default=None, description="The first tool the agent calls")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="Key arguments of that call (text: contained)"
    )
    reply_contains: str | None = Field(default=None, description="Text in the last reply")
    status: str | None = None
    waits_for_approval: list[str] = Field(default_factory=list)
    never_proposed: list[str] = Field(default_factory=list)
    no_risky_proposal: bool = False
    memories_used: list[str] = Field(default_factory=list)
    memories_unused: list[str] = Field(default_factory=list)


class Case(BaseModel):
    """One case: a request, what the store holds, and what must happen."""

    model_config = ConfigDict(extra="forbid")

    id: str
    request: str
    seed: Seed = Field(default_factory=Seed)
    # Decisions taken in order instead of the model's (a case about policy, not judgement).
    script: list[dict[str, Any]] | None = None
    expect: Expect = Field(default_factory=Expect)
    budget: Budget = Field(default_factory=Budget)
    quick: bool = False
    max_steps: int = Field(default=8, ge=1, le=50)
    # Grant every approval the run asks for (the person says yes) instead of stopping there.
    approve: bool = False


class Suite(BaseModel):
    """A loaded suite file."""

    path: Path
    header: Header
    cases: list[Case]

    @property
    def name(self) -> str:
        """The suite's name from its header."""
        return self.header.suite


def _sidecar(path: Path) -> dict[str, Any]:
    for candidate in (path.with_suffix(".toml"), path.parent / "suite.toml"):
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise SuiteError(f"{candidate}: not TOML: {exc}") from None
            table = data.get("suite", {})
            # A folder-wide suite.toml holds one table per suite name.
            if candidate.name == "suite.toml":
                table = data.get(path.stem, {})
            if not isinstance(table, dict):
                raise SuiteError(f"{candidate}: [suite] must be a table")
            return table
    return {}


def load_suite(path: Path) -> Suite:
    """Read and validate a suite file; SuiteError says what is wrong and where."""
    try:
        lines = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1)]
    except OSError as exc:
        raise SuiteError(f"cannot read suite {path}: {exc.strerror}") from None
    rows = [(n, line) for n, line in lines if line.strip()]
    if not rows:
        raise SuiteError(f"{path}: empty suite file")
    try:
        raw_header = json.loads(rows[0][1])
        header = Header.model_validate({**raw_header, **_sidecar(path)})
    except (ValueError, ValidationError) as exc:
        raise SuiteError(f"{path}:{rows[0][0]}: bad suite header: {exc}") from None
    cases: list[Case] = []
    for n, line in rows[1:]:
        try:
            cases.append(Case.model_validate_json(line))
        except ValidationError as exc:
            raise SuiteError(f"{path}:{n}: bad case: {exc}") from None
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise SuiteError(f"{path}: case ids repeat")
    return Suite(path=path, header=header, cases=cases)


def find_suites(names: list[str]) -> list[Suite]:
    """The named suites (a name in core/evals/suites, or a path), or every bundled suite."""
    if not names:
        return [load_suite(p) for p in sorted(SUITES_DIR.glob("*.jsonl"))]
    suites: list[Suite] = []
    for name in names:
        path = Path(name)
        if not path.is_file():
            path = SUITES_DIR / f"{name.removesuffix('.jsonl')}.jsonl"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.jsonl")))
            raise SuiteError(f"no suite '{name}' (bundled suites: {known})")
        suites.append(load_suite(path))
    return suites
