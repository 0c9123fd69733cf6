"""The gate every tool call passes: validate, authorise, limit, decide on approval, execute.

The step asks :meth:`ToolGate.judge` before anything is recorded as started, and
:meth:`ToolGate.execute` to run an allowed call. The order of the checks is fixed: the tool
exists → arguments match its schema → the user holds its scopes → the tenant's and the user's
token buckets for it have a token → its circuit breaker lets calls through → the approval
policy. Each check's outcome is kept in the :class:`Verdict` so the step can put every
decision, allowed or denied, into the run's events. A retryable denial (rate limit, paused
tool) names the wait after which the same call may go.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_exponential_jitter

from core.ids import hash_json
from core.tools.guards import Limit
from core.tools.registry import ToolRegistry, UnknownTool
from core.tools.spec import INFRA_ERRORS, Idempotency, ToolContext, ToolError, ToolResult, ToolSpec

MAX_MESSAGE_CHARS = 1000


@dataclass
class Verdict:
    """The gate's judgement of one proposed call."""

    outcome: str  # "allow" | "approve" (needs a human) | "deny"
    spec: ToolSpec | None = None
    error_type: str | None = None
    reason: str = ""
    checks: list[str] = field(default_factory=list)
    retryable: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    # A retryable denial: seconds until the same call may be let through.
    retry_after_s: float | None = None

    def as_event(self) -> dict[str, Any]:
        """The verdict as event data: what was decided, why, and which checks passed."""
        data: dict[str, Any] = {
            "outcome": self.outcome,
            "error_type": self.error_type,
            "reason": self.reason,
            "retryable": self.retryable,
            "checks": self.checks,
        }
        if self.spec is not None:
            data.update(
                tool=self.spec.name,
                source=self.spec.source,
                risk_level=int(self.spec.risk_level),
                idempotency=self.spec.idempotency.value,
                scopes=list(self.spec.scopes),
            )
        data.update(self.details)
        return data

    def as_result(self) -> ToolResult:
        """A denied verdict as the normalised result the agent is shown."""
        return ToolResult(
            status="denied",
            error_type=self.error_type,
            retryable=self.retryable,
            message=self.reason,
        )


class ToolGate:
    """Judges and executes tool calls for the step.

    Gates are cheap: the approval policy and the guard state (rate limits, breakers) live on
    the registry, so every gate built on one registry shares them.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        approval_min_level: int | None = None,
        retry_wait_s: float = 0.2,
    ) -> None:
        self.registry = registry
        self.approval_min_level = approval_min_level
        self.retry_wait_s = retry_wait_s

    def visible_tools(
        self, tenant_id: str, user_id: str, scopes: set[str] | None
    ) -> list[ToolSpec]:
        """The tools this user may use; others are never shown to the model."""
        return [t for t in self.registry.all() if self._permitted(t, scopes)]

    @staticmethod
    def _permitted(spec: ToolSpec, scopes: set[str] | None) -> bool:
        # A user without an explicit scope list has every scope (single-user embedded default).
        return scopes is None or set(spec.scopes) <= scopes

    def approval_rule(self, spec: ToolSpec, tenant_id: str) -> tuple[bool, str]:
        """Whether a call of ``spec`` waits for a human, and the policy rule that decided it."""
        return self.registry.policy.decide(spec, tenant_id, self.approval_min_level)

    def needs_approval(self, spec: ToolSpec, tenant_id: str) -> bool:
        """Whether a call of ``spec`` waits for a human before it executes."""
        return self.approval_rule(spec, tenant_id)[0]

    def judge(
        self,
        tenant_id: str,
        user_id: str,
        tool: str,
        arguments: dict[str, Any],
        scopes: set[str] | None = None,
        approved: bool = False,
        call_id: str | None = None,
    ) -> Verdict:
        """Run the checks that come before execution, in order; the first failure denies.

        ``approved`` says that the step holds a granted approval for exactly this call; the
        step checks the approval row (tool, arguments hash, run, user, unused) before passing it.
        ``call_id`` names a call that will be proposed again after a retryable denial: the
        rate limiter then keeps its place in line (see :class:`~core.tools.guards.RateLimiter`).
        """
        checks: list[str] = []
        details: dict[str, Any] = {
            "tool": tool,
            "tenant_id": tenant_id,
            "user_id": user_id,
            "arguments_hash": hash_json(arguments),
        }

        def deny(
            spec: ToolSpec | None, error_type: str, reason: str, retry_after_s: float | None = None
        ) -> Verdict:
            retryable = retry_after_s is not None
            if retryable:
                details["retry_after_s"] = round(float(retry_after_s or 0.0), 3)
            return Verdict(
                "deny", spec, error_type, reason, checks, retryable, details, retry_after_s
            )

        try:
            spec = self.registry.get(tool)
        except UnknownTool:
            return deny(None, "unknown_tool", f"no tool named '{tool}'")
        checks.append("exists")
        if not isinstance(arguments, dict):
            return deny(spec, "invalid_arguments", "arguments must be a JSON object")
        error = jsonschema.exceptions.best_match(spec.input_validator.iter_errors(arguments))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            return deny(
                spec, "invalid_arguments", f"{where + ': ' if where else ''}{error.message}"[:500]
            )
        checks.append("schema_valid")
        if not self._permitted(spec, scopes):
            missing = sorted(set(spec.scopes) - (scopes or set()))
            return deny(spec, "permission_denied", f"'{tool}' needs the scopes {missing}")
        checks.append("permitted")

        guards = self.registry.guards
        rate = guards.rate.take(
            tenant_id,
            user_id,
            tool,
            _limit(spec.rate_per_minute, spec.rate_burst, guards.rate.tenant_limit),
            _limit(spec.user_rate_per_minute, spec.user_rate_burst, guards.rate.user_limit),
            reservation=call_id,
        )
        details["rate_tokens_left"] = round(rate.tokens_left, 2)
        if not rate.allowed:
            return deny(
                spec,
                "rate_limited",
                f"'{tool}' is rate limited; retry in {rate.wait_s:.1f} s",
                rate.wait_s,
            )
        checks.append("rate_ok")

        needs, rule = self.approval_rule(spec, tenant_id)
        details["approval_rule"] = rule
        waits_for_human = needs and not approved
        if waits_for_human:
            # Do not spend the half-open trial on a call that may never be approved.
            allowed, state, pause = guards.breakers.peek(tool)
        else:
            call_key = f"{tenant_id}:{user_id}:{details['arguments_hash']}"
            allowed, state, pause = guards.breakers.allow(tool, call_key)
        details["breaker"] = state
        if not allowed:
            return deny(
                spec, "circuit_open", f"'{tool}' is failing repeatedly; it is paused for now", pause
            )
        checks.append(f"breaker_{state}")

        if waits_for_human:
            checks.append(f"approval_required(level {int(spec.risk_level)})")
            return Verdict(
                "approve", spec, None, f"needs a human approval: {rule}", checks, False, details
            )
        checks.append("approved" if needs else "no_approval_needed")
        return Verdict("allow", spec, None, rule, checks, False, details)

    async def execute(
        self, spec: ToolSpec, arguments: dict[str, Any], ctx: ToolContext
    ) -> ToolResult:
        """Execute with the tool's timeout, retrying only what is safe to retry, and normalise.

        A failure the tool marks retryable is tried again (up to ``spec.max_attempts``, with
        jittered back-off and the same idempotency key) unless the tool is ``unsafe`` to replay
        or its breaker opened meanwhile. Whatever happens ends as a :class:`ToolResult`.
        """
        started = time.monotonic()
        attempts = 0
        breakers = self.registry.guards.breakers

        async def once() -> ToolResult:
            nonlocal attempts
            attempts += 1
            result = await self._attempt(spec, arguments, ctx)
            infra = result.status == "failed" and result.error_type in INFRA_ERRORS
            breakers.record(spec.name, infra)
            return result

        def should_retry(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None or outcome.failed:
                return False
            result: ToolResult = outcome.result()
            return (
                result.status == "failed"
                and result.retryable
                and spec.idempotency != Idempotency.UNSAFE
                and breakers.state(spec.name) != "open"
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, spec.max_attempts)),
            wait=wait_exponential_jitter(
                multiplier=self.retry_wait_s, max=5.0, jitter=self.retry_wait_s
            ),
            retry=should_retry,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        result: ToolResult = await retrying(once)
        result.attempts = attempts
        result.duration_ms = int((time.monotonic() - started) * 1000)
        return result

    async def _attempt(
        self, spec: ToolSpec, arguments: dict[str, Any], ctx: ToolContext
    ) -> ToolResult:
        replayable = spec.idempotency != Idempotency.UNSAFE
        try:
            raw = await asyncio.wait_for(spec.fn(arguments, ctx), timeout=spec.timeout_s)
        except TimeoutError:
            tail = "" if replayable else "; it may or may not have taken effect"
            return ToolResult.fail(
                "timeout", f"{spec.name} timed out after {spec.timeout_s:g} s{tail}", replayable
            )
        except ToolError as exc:
            return ToolResult.fail(
                exc.error_type, exc.message[:MAX_MESSAGE_CHARS], exc.retryable, _jsonable(exc.data)
            )
        except Exception as exc:  # a tool's failure is data for the agent, not a crash
            text = f"{spec.name} failed: {type(exc).__name__}: {exc}"
            return ToolResult.fail("tool_error", text[:MAX_MESSAGE_CHARS])
        result = raw if isinstance(raw, ToolResult) else ToolResult.ok(raw)
        try:
            result.data = _jsonable(result.data)
        except (TypeError, ValueError) as exc:
            return ToolResult.fail("invalid_result", f"{spec.name} returned non-JSON data: {exc}")
        if spec.result_validator is not None and result.status == "succeeded":
            error = jsonschema.exceptions.best_match(spec.result_validator.iter_errors(result.data))
            if error is not None:
                return ToolResult.fail(
                    "invalid_result", f"{spec.name} returned data off its schema: {error.message}"
                )
        result.message = result.message[:MAX_MESSAGE_CHARS]
        return result


def _limit(per_minute: float | None, burst: int | None, default: Limit) -> Limit:
    """A tool's own bucket shape, each part falling back to the configured default."""
    return Limit(
        per_minute if per_minute is not None else default.per_minute,
        burst if burst is not None else default.burst,
    )


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (results are stored in JSON columns and sent to models)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return json.loads(json.dumps(value, default=str))
