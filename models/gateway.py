"""The model gateway: every model call of Baton goes through here, and through litellm.

For one step the gateway walks the route's candidates in order. Before each call it checks
the model's circuit breaker and whether the budget covers the call's estimated cost. A
provider error or timeout counts against the breaker and falls back to the next model. An
answer that fails validation is fed back to the model with the error (escalating to the next,
stronger model of the cascade when there is one), at most ``max_attempts`` times in total.
Every call, failed or not, becomes a :class:`ModelCallRecord` for cost attribution.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from models.breaker import BreakerBoard
from models.budget import Budget, call_cost, count_tokens, estimate_cost
from models.config import GatewayConfig, ModelSpec
from models.contract import AgentError, ModelCallRecord
from models.decision_schema import DecisionInvalid
from models.llm_client import litellm
from models.model_loop import iterate_on_model_loop, on_model_loop
from models.redact import redact, redact_messages
from models.router import RouteConstraints, Router

log = logging.getLogger(__name__)
T = TypeVar("T")
Messages = list[dict[str, Any]]
MessagesFor = Callable[[ModelSpec], Messages]


@dataclass
class StructuredRequest(Generic[T]):
    """What to ask one model: messages, the schema to decode with, how to parse the reply."""

    messages: Messages
    schema: dict[str, Any]
    parse: Callable[[str], T]
    schema_name: str = "decision"


@dataclass
class _Answer:
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float


def _failure_reason(exc: BaseException, spec: ModelSpec) -> str:
    """A short, secret-free description of a provider failure."""
    if isinstance(exc, asyncio.TimeoutError | litellm.Timeout):
        return f"timeout after {spec.timeout_s:g}s"
    status = getattr(exc, "status_code", None)
    name = exc.__class__.__name__
    head = f"{name} (HTTP {status})" if status else name
    detail = redact(str(exc).splitlines()[0] if str(exc) else "")[:160]
    return f"{head}: {detail}" if detail else head


def _response_format(spec: ModelSpec, schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    if spec.structured == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": False},
        }
    if spec.structured == "json_object":
        return {"type": "json_object"}
    return None


class Gateway:
    """Routing, fallback, breakers, budgets, validation and cost records over litellm."""

    def __init__(
        self, config: GatewayConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not config.models:
            raise ValueError("the gateway needs at least one model")
        self.config = config
        self.router = Router(config)
        self.breakers = BreakerBoard(
            config.breaker_failure_threshold, config.breaker_cooldown_s, clock
        )

    def _kwargs(self, spec: ModelSpec, messages: Messages, max_tokens: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": spec.model,
            "messages": messages,
            "timeout": spec.timeout_s,
            # llama.cpp's server ignores max_completion_tokens; max_tokens works everywhere.
            "max_tokens": max_tokens,
            "temperature": spec.temperature,
            # Fallback is ours: no hidden retries inside litellm or the provider client.
            "num_retries": 0,
            "max_retries": 0,
            "drop_params": True,
        }
        if spec.api_base:
            kwargs["api_base"] = spec.api_base
        if spec.api_key is not None:
            kwargs["api_key"] = spec.api_key.get_secret_value()
        kwargs.update(spec.extra)
        return kwargs

    def _debug(self, spec: ModelSpec, messages: Messages, output: str | None) -> None:
        if self.config.debug_prompts and log.isEnabledFor(logging.DEBUG):
            log.debug(
                "prompt for %s: %s -> %s",
                spec.name,
                redact_messages(messages),
                redact(output or ""),
            )

    async def _call(
        self,
        spec: ModelSpec,
        messages: Messages,
        max_tokens: int,
        response_format: dict[str, Any] | None,
    ) -> _Answer:
        kwargs = self._kwargs(spec, messages, max_tokens)
        if response_format is not None:
            kwargs["response_format"] = response_format
        started = time.perf_counter()
        resp = await on_model_loop(
            asyncio.wait_for(litellm.acompletion(**kwargs), timeout=spec.timeout_s)
        )
        latency = (time.perf_counter() - started) * 1000.0
        text = resp.choices[0].message.content or ""
        usage = getattr(resp, "usage", None)
        in_tok = int(getattr(usage, "prompt_tokens", 0) or 0)
        out_tok = int(getattr(usage, "completion_tokens", 0) or 0)
        if usage is None:
            in_tok = count_tokens(spec, messages)
            out_tok = count_tokens(spec, [{"role": "assistant", "content": text}])
        return _Answer(text, in_tok, out_tok, latency)

    def _admit(
        self, spec: ModelSpec, messages: Messages, max_tokens: int, budget: Budget
    ) -> str | None:
        """None when a call to ``spec`` may go now, else why not."""
        estimate = estimate_cost(spec, messages, max_tokens)
        if not budget.can_afford(estimate):
            return f"budget: a call needs about ${estimate:.6f}; {budget.describe()}"
        if not self.breakers.get(spec.name).acquire():
            return "circuit open after repeated failures"
        return None

    async def structured(
        self,
        *,
        task_type: str,
        request_for: Callable[[ModelSpec], StructuredRequest[T]],
        constraints: RouteConstraints | None = None,
        budget: Budget | None = None,
    ) -> tuple[T, list[ModelCallRecord]]:
        """A validated, parsed answer for one step, with the records of every call made.

        ``request_for`` shapes the request for each model (small models may get another
        prompt and schema than large ones).

        Raises :class:`AgentError` (carrying the records) when no model may be called, all
        fail, the budget cannot cover a call, or answers stay invalid ``max_attempts`` times.
        """
        plan = self.router.plan(task_type, constraints or RouteConstraints())
        budget = budget or Budget()
        records: list[ModelCallRecord] = []
        skipped: dict[str, str] = dict(plan.excluded)
        feedback: Messages = []
        invalid = 0
        index = 0
        candidates = plan.candidates
        while True:
            chosen: tuple[int, ModelSpec, StructuredRequest[T], Messages] | None = None
            for pos in range(index, len(candidates)):
                spec = candidates[pos]
                request = request_for(spec)
                messages = request.messages + feedback
                why = self._admit(spec, messages, spec.max_output_tokens, budget)
                if why is None:
                    chosen = (pos, spec, request, messages)
                    break
                skipped[spec.name] = why
            if chosen is None:
                raise AgentError(self._no_model_reason(task_type, skipped), records)
            pos, spec, request, messages = chosen
            breaker = self.breakers.get(spec.name)
            fmt = _response_format(spec, request.schema, request.schema_name)
            try:
                answer = await self._call(spec, messages, spec.max_output_tokens, fmt)
            except asyncio.CancelledError:
                breaker.release()
                raise
            except Exception as exc:
                breaker.record_failure()
                reason = _failure_reason(exc, spec)
                records.append(self._record(spec, None, len(records) + 1, "error", reason))
                skipped[spec.name] = reason
                log.warning("model %s failed (%s); falling back", spec.name, reason)
                index = pos + 1
                continue
            breaker.record_success()
            self._debug(spec, messages, answer.text)
            cost = call_cost(spec, answer.input_tokens, answer.output_tokens)
            budget.charge(cost)
            try:
                value = request.parse(answer.text)
            except DecisionInvalid as exc:
                invalid += 1
                records.append(
                    self._record(spec, answer, len(records) + 1, "invalid", str(exc), cost)
                )
                # The reason may quote what the person said: only the debug switch logs it.
                log.info(
                    "model %s gave an invalid answer (%d/%d)",
                    spec.name,
                    invalid,
                    self.config.max_attempts,
                )
                if self.config.debug_prompts:
                    log.debug("invalid answer from %s: %s", spec.name, redact(str(exc)))
                if invalid >= self.config.max_attempts:
                    raise AgentError(
                        f"no valid answer after {invalid} attempts; last error: {exc}", records
                    ) from None
                feedback = [
                    *feedback,
                    {"role": "assistant", "content": answer.text[:2000]},
                    {
                        "role": "user",
                        "content": f"That reply was rejected: {exc}. Reply again with only one "
                        "JSON object in the required format.",
                    },
                ]
                # Cascade: the next model of the route is the stronger (dearer) one.
                index = pos + 1 if pos + 1 < len(candidates) else pos
                continue
            records.append(self._record(spec, answer, len(records) + 1, "ok", None, cost))
            return value, records

    async def stream_text(
        self,
        *,
        task_type: str,
        messages_for: MessagesFor,
        records: list[ModelCallRecord],
        constraints: RouteConstraints | None = None,
        budget: Budget | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Stream a free-text answer (e.g. a voice summary) as text deltas.

        Falls back to the next model only before the first delta; after that a failure
        raises :class:`AgentError`. Each call is appended to ``records``.
        """
        plan = self.router.plan(task_type, constraints or RouteConstraints())
        budget = budget or Budget()
        skipped: dict[str, str] = dict(plan.excluded)
        for spec in plan.candidates:
            messages = messages_for(spec)
            limit = max_tokens or spec.max_output_tokens
            why = self._admit(spec, messages, limit, budget)
            if why is not None:
                skipped[spec.name] = why
                continue
            breaker = self.breakers.get(spec.name)
            kwargs = self._kwargs(spec, messages, limit)
            kwargs.update(stream=True, stream_options={"include_usage": True})
            started = time.perf_counter()
            pieces: list[str] = []
            usage: Any = None
            try:
                chunks = iterate_on_model_loop(litellm.acompletion(**kwargs), spec.timeout_s)
                async for chunk in chunks:
                    usage = getattr(chunk, "usage", None) or usage
                    delta = chunk.choices[0].delta.content if chunk.choices else None
                    if delta:
                        pieces.append(delta)
                        yield delta
            except asyncio.CancelledError:
                breaker.release()
                raise
            except Exception as exc:
                breaker.record_failure()
                reason = _failure_reason(exc, spec)
                records.append(self._record(spec, None, len(records) + 1, "error", reason))
                if pieces:
                    raise AgentError(f"{spec.name} failed mid-stream: {reason}", records) from None
                skipped[spec.name] = reason
                continue
            breaker.record_success()
            text = "".join(pieces)
            self._debug(spec, messages, text)
            in_tok = int(getattr(usage, "prompt_tokens", 0) or 0) or count_tokens(spec, messages)
            out_tok = int(getattr(usage, "completion_tokens", 0) or 0) or count_tokens(
                spec, [{"role": "assistant", "content": text}]
            )
            cost = call_cost(spec, in_tok, out_tok)
            budget.charge(cost)
            latency = (time.perf_counter() - started) * 1000.0
            answer = _Answer(text, in_tok, out_tok, latency)
            records.append(self._record(spec, answer, len(records) + 1, "ok", None, cost))
            return
        raise AgentError(self._no_model_reason(task_type, skipped), records)

    @staticmethod
    def _record(
        spec: ModelSpec,
        answer: _Answer | None,
        attempt: int,
        status: str,
        error: str | None,
        cost: float = 0.0,
    ) -> ModelCallRecord:
        return ModelCallRecord(
            model=spec.model,
            model_name=spec.name,
            input_tokens=answer.input_tokens if answer else 0,
            output_tokens=answer.output_tokens if answer else 0,
            latency_ms=round(answer.latency_ms, 3) if answer else 0.0,
            cost_usd=cost,
            attempts=attempt,
            status=status,
            error=error,
        )

    @staticmethod
    def _no_model_reason(task_type: str, skipped: dict[str, str]) -> str:
        if not skipped:
            return f"no model is routed for task {task_type!r}"
        details = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        if all(why.startswith("budget") for why in skipped.values()):
            return f"budget exhausted for task {task_type!r} ({details})"
        return f"no model could serve task {task_type!r} ({details})"
