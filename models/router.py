"""The routing table: task type and constraints to an ordered list of models.

The configured route of a task type is its cascade, cheapest adequate model first. The
constraints of a step narrow it: confidential data only goes to local models (a hard rule),
and models known to be slower than the step's latency budget move behind the ones that fit
(a soft rule: a slow answer beats none). Breakers and budgets are checked later, per call,
because they change while a step runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.config import GatewayConfig, ModelSpec


@dataclass(frozen=True)
class RouteConstraints:
    """What one step asks of the models that may serve it."""

    latency_budget_ms: float | None = None
    data_sensitivity: str = "internal"

    @classmethod
    def from_pack(cls, constraints: dict[str, Any]) -> RouteConstraints:
        """Read the ``constraints`` of a context pack."""
        latency = constraints.get("latency_budget_ms")
        return cls(
            latency_budget_ms=float(latency) if latency is not None else None,
            data_sensitivity=str(constraints.get("data_sensitivity") or "internal"),
        )


@dataclass
class RoutePlan:
    """Models to try in order, and why others were left out."""

    task_type: str
    candidates: list[ModelSpec]
    excluded: dict[str, str] = field(default_factory=dict)


class Router:
    """Turns a task type and constraints into a :class:`RoutePlan`."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config

    def plan(self, task_type: str, constraints: RouteConstraints) -> RoutePlan:
        """The ordered candidates for one step."""
        excluded: dict[str, str] = {}
        fits: list[ModelSpec] = []
        slow: list[ModelSpec] = []
        for name in self.config.route_for(task_type):
            spec = self.config.spec(name)
            if constraints.data_sensitivity == "confidential" and not spec.local:
                excluded[name] = "confidential data stays on local models"
                continue
            budget = constraints.latency_budget_ms
            if budget is not None and (spec.typical_latency_ms or 0.0) > budget:
                slow.append(spec)
                continue
            fits.append(spec)
        slow.sort(key=lambda s: s.typical_latency_ms or 0.0)
        return RoutePlan(task_type, fits + slow, excluded)
