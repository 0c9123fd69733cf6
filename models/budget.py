"""What a call costs and whether the run and tenant can still pay for it.

Prices come from litellm's bundled cost map, or from a model's configured per-token prices
(local models are free). The remaining budgets arrive in ``ContextPack.budget`` from the core
(``run_remaining_usd``, ``tenant_remaining_usd``, ``max_cost_usd`` for one step); ``None`` or a
missing key means unlimited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from models.config import ModelSpec
from models.llm_client import litellm

log = logging.getLogger(__name__)
_map_prices: dict[str, tuple[float, float]] = {}


def token_prices(spec: ModelSpec) -> tuple[float, float]:
    """USD per input token and per output token of a model (0, 0 when nobody knows)."""
    if spec.input_cost_per_token is not None or spec.output_cost_per_token is not None:
        return spec.input_cost_per_token or 0.0, spec.output_cost_per_token or 0.0
    cached = _map_prices.get(spec.model)
    if cached is not None:
        return cached
    try:
        info = litellm.get_model_info(spec.model)
        prices = (
            float(info.get("input_cost_per_token") or 0.0),
            float(info.get("output_cost_per_token") or 0.0),
        )
    except Exception:
        log.warning(
            "no price known for %s: its calls count as free against budgets; "
            "set input_cost_per_token/output_cost_per_token for it",
            spec.model,
        )
        prices = (0.0, 0.0)
    _map_prices[spec.model] = prices
    return prices


def call_cost(spec: ModelSpec, input_tokens: int, output_tokens: int) -> float:
    """USD cost of a finished call."""
    inp, out = token_prices(spec)
    return input_tokens * inp + output_tokens * out


def count_tokens(spec: ModelSpec, messages: list[dict[str, Any]]) -> int:
    """Prompt tokens of ``messages`` for ``spec`` (litellm's tokenizer for the model)."""
    try:
        return int(litellm.token_counter(model=spec.model, messages=messages))
    except Exception:
        # Roughly four characters per token for English text.
        return sum(len(str(m.get("content", ""))) for m in messages) // 4 + 4 * len(messages)


def estimate_cost(spec: ModelSpec, messages: list[dict[str, Any]], max_tokens: int) -> float:
    """Upper estimate of a call's cost: the whole prompt plus ``max_tokens`` of output."""
    inp, out = token_prices(spec)
    if inp == 0.0 and out == 0.0:
        return 0.0
    return count_tokens(spec, messages) * inp + max_tokens * out


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)


@dataclass
class Budget:
    """Money left for one step: the tightest of run, tenant and per-step limits."""

    run_remaining_usd: float | None = None
    tenant_remaining_usd: float | None = None
    step_max_usd: float | None = None
    spent_usd: float = 0.0

    @classmethod
    def from_pack(cls, budget: dict[str, Any], constraints: dict[str, Any]) -> Budget:
        """Read the budget fields of a context pack."""
        return cls(
            run_remaining_usd=_opt_float(budget.get("run_remaining_usd")),
            tenant_remaining_usd=_opt_float(budget.get("tenant_remaining_usd")),
            step_max_usd=_opt_float(constraints.get("max_cost_usd", budget.get("max_cost_usd"))),
        )

    def remaining(self) -> float | None:
        """USD still available in this step (None: unlimited)."""
        limits = [
            v
            for v in (self.run_remaining_usd, self.tenant_remaining_usd, self.step_max_usd)
            if v is not None
        ]
        if not limits:
            return None
        return min(limits) - self.spent_usd

    def can_afford(self, estimate_usd: float) -> bool:
        """True when a call of that estimated cost fits (a free call always fits)."""
        left = self.remaining()
        return estimate_usd <= 0.0 or left is None or estimate_usd <= left

    def charge(self, cost_usd: float) -> None:
        """Count a finished call against this step."""
        self.spent_usd += cost_usd

    def describe(self) -> str:
        """The limits as a person would read them, for error messages."""
        parts = []
        if self.run_remaining_usd is not None:
            parts.append(f"run has ${max(self.run_remaining_usd, 0.0):.6f} left")
        if self.tenant_remaining_usd is not None:
            parts.append(f"tenant has ${max(self.tenant_remaining_usd, 0.0):.6f} left")
        if self.step_max_usd is not None:
            parts.append(f"step may spend ${self.step_max_usd:.6f}")
        if self.spent_usd:
            parts.append(f"${self.spent_usd:.6f} already spent in this step")
        return ", ".join(parts) or "no limit"
