"""GatewayAgent: the Agent the core's step calls, deciding through the model gateway."""

from __future__ import annotations

from models import action_format
from models.budget import Budget
from models.config import DecodingStyle, ModelSpec
from models.contract import (
    AgentError,
    AgentResult,
    ContextPack,
    Decision,
    ModelCallRecord,
)
from models.decision_schema import parse_decision, step_schema
from models.gateway import Gateway, StructuredRequest
from models.intent import ActionClassifier
from models.prompt import build_messages
from models.router import RouteConstraints


def decision_request(
    pack: ContextPack, spec: ModelSpec, style: DecodingStyle, only: list[str] | None = None
) -> StructuredRequest[Decision]:
    """How to ask ``spec`` for this step's decision in a decoding style (``only``: the
    actions left once the first stage of two-stage decoding has chosen)."""
    if style == "step":
        return StructuredRequest(
            build_messages(pack, few_shot=spec.few_shot),
            step_schema(pack.task_type, pack.tools, pack.response_profile),
            lambda text: parse_decision(text, pack.task_type, pack.tools, pack.response_profile),
        )
    return StructuredRequest(
        action_format.action_messages(pack, few_shot=spec.few_shot),
        action_format.action_schema(pack, only=only),
        lambda text: action_format.parse_action(text, pack),
    )


def choice_request(pack: ContextPack, spec: ModelSpec) -> StructuredRequest[str]:
    """First stage of two-stage decoding by the model itself: only the action's name."""
    return StructuredRequest(
        action_format.action_messages(pack, few_shot=spec.few_shot, choose_only=True),
        action_format.choice_schema(pack),
        lambda text: action_format.parse_choice(text, pack),
        schema_name="action",
    )


def _awaits_action(pack: ContextPack) -> bool:
    """True when the person spoke last (after a tool result the model decides freely)."""
    return not pack.messages or pack.messages[-1].role == "user"


class GatewayAgent:
    """Implements the Agent protocol; keeps no per-run state (the gateway's breakers are
    per model, shared by all runs of the process).

    ``style`` forces one decoding style for every model (benchmarks); by default the first
    routed model's ``ModelSpec.decoding`` applies. With a ``classifier``, the first stage of
    two-stage decoding is the classifier instead of a model call. ``may_ask`` lets the second
    stage turn a chosen tool into a question; small models then ask far too often (see
    bench/agent_decisions.py), so by default they fill the tool in and risky calls are
    confirmed with the person anyway.
    """

    def __init__(
        self,
        gateway: Gateway,
        style: DecodingStyle | None = None,
        classifier: ActionClassifier | None = None,
        may_ask: bool = False,
    ) -> None:
        self.gateway = gateway
        self.style = style
        self.classifier = classifier
        self.may_ask = may_ask

    async def decide(self, pack: ContextPack) -> AgentResult:
        """The next decision for ``pack``, validated against this step's schema.

        Raises AgentError with a clear reason (and the calls made) when no valid decision
        could be had within the attempts, models and budget available.
        """
        constraints = RouteConstraints.from_pack(pack.constraints)
        budget = Budget.from_pack(pack.budget, pack.constraints)
        plan = self.gateway.router.plan(pack.task_type, constraints)
        first = plan.candidates[0] if plan.candidates else None
        style: DecodingStyle = self.style or (first.decoding if first else "step")
        calls: list[ModelCallRecord] = []
        only: list[str] | None = None
        if style == "two_stage" and _awaits_action(pack):
            chosen = self.classifier.choose(pack) if self.classifier is not None else None
            if chosen is None:
                chosen, calls = await self._choose(pack, constraints, budget)
            only = action_format.narrowed(pack, chosen, may_ask=self.may_ask)
        if style == "two_stage":
            style = "action_first"
        try:
            decision, more = await self.gateway.structured(
                task_type=pack.task_type,
                request_for=lambda spec: decision_request(pack, spec, style, only),
                constraints=constraints,
                budget=budget,
            )
        except AgentError as exc:
            raise AgentError(str(exc), calls + exc.calls) from None
        return AgentResult(decision=decision, calls=calls + more)

    async def _choose(
        self, pack: ContextPack, constraints: RouteConstraints, budget: Budget
    ) -> tuple[str, list[ModelCallRecord]]:
        return await self.gateway.structured(
            task_type=pack.task_type,
            request_for=lambda spec: choice_request(pack, spec),
            constraints=constraints,
            budget=budget,
        )
