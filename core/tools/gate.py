"""The gate every tool call passes: validate, authorise, decide on approval, execute, normalise.

The step asks :meth:`ToolGate.judge` before anything is recorded as started, and
:meth:`ToolGate.execute` to run an allowed call. Each check's outcome is returned so that the
step can put every decision, allowed or denied, into the run's events.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from core.tools.registry import ToolRegistry, UnknownTool
from core.tools.spec import ToolContext, ToolResult, ToolSpec


@dataclass
class Verdict:
    """The gate's judgement of one proposed call."""

    outcome: str  # "allow" | "approve" (needs a human) | "deny"
    spec: ToolSpec | None = None
    error_type: str | None = None
    reason: str = ""
    checks: list[str] = field(default_factory=list)

    def as_event(self) -> dict[str, Any]:
        """The verdict as event data."""
        return {
            "outcome": self.outcome,
            "error_type": self.error_type,
            "reason": self.reason,
            "checks": self.checks,
        }


class ToolGate:
    """Judges and executes tool calls for the step."""

    def __init__(self, registry: ToolRegistry, approval_min_level: int = 3) -> None:
        self.registry = registry
        self.approval_min_level = approval_min_level

    def visible_tools(self, tenant_id: str, user_id: str, scopes: set[str] | None) -> list[ToolSpec]:
        """The tools this user may use; others are never shown to the model."""
        return [t for t in self.registry.all() if self._permitted(t, scopes)]

    @staticmethod
    def _permitted(spec: ToolSpec, scopes: set[str] | None) -> bool:
        # A user without an explicit scope list has every scope (single-user embedded default).
        return scopes is None or set(spec.scopes) <= scopes

    def needs_approval(self, spec: ToolSpec, tenant_id: str) -> bool:
        """Whether a call of ``spec`` waits for a human before it executes."""
        if spec.approval_required is not None:
            return spec.approval_required
        return int(spec.risk_level) >= self.approval_min_level

    def judge(
        self,
        tenant_id: str,
        user_id: str,
        tool: str,
        arguments: dict[str, Any],
        scopes: set[str] | None = None,
        approved: bool = False,
    ) -> Verdict:
        """Run the checks that come before execution, in order; the first failure denies."""
        checks: list[str] = []
        try:
            spec = self.registry.get(tool)
        except UnknownTool:
            return Verdict("deny", None, "unknown_tool", f"no tool named '{tool}'", checks)
        checks.append("exists")
        try:
            jsonschema.validate(arguments, spec.input_schema)
        except jsonschema.ValidationError as exc:
            return Verdict("deny", spec, "invalid_arguments", exc.message, checks)
        checks.append("schema_valid")
        if not self._permitted(spec, scopes):
            return Verdict("deny", spec, "permission_denied", f"'{tool}' needs {spec.scopes}", checks)
        checks.append("permitted")
        if self.needs_approval(spec, tenant_id) and not approved:
            checks.append(f"approval_required(level {int(spec.risk_level)})")
            return Verdict("approve", spec, None, "needs a human approval", checks)
        checks.append("approved" if approved else "no_approval_needed")
        return Verdict("allow", spec, None, "", checks)

    async def execute(self, spec: ToolSpec, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Execute with the tool's timeout and normalise whatever happens into a ToolResult."""
        try:
            raw = await asyncio.wait_for(spec.fn(arguments, ctx), timeout=spec.timeout_s)
        except TimeoutError:
            return ToolResult.fail(
                "timeout", f"{spec.name} timed out after {spec.timeout_s:g} s", retryable=True
            )
        except Exception as exc:  # a tool's failure is data for the agent, not a crash
            return ToolResult.fail("tool_error", f"{spec.name} failed: {exc}")
        if isinstance(raw, ToolResult):
            return raw
        return ToolResult.ok(raw)

