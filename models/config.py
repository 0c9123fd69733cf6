"""Configuration objects of the model layer.

``models/`` never reads the environment or imports the core: the core maps its Settings onto
these objects (core/agent/factory.py) and hands them in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from models.contract import TaskType

TASK_TYPES: tuple[TaskType, ...] = (
    "planning",
    "decision",
    "classification",
    "voice_summary",
    "memory_extraction",
)
Sensitivity = Literal["public", "internal", "confidential"]
StructuredMode = Literal["json_schema", "json_object", "none"]
# How a decision is asked for: the contract's shape narrowed to the step ("step"), the
# action-first shape ("action_first"), or the action chosen first in a call of its own
# ("two_stage"). The last two help small models (bench/agent_decisions.py).
DecodingStyle = Literal["step", "action_first", "two_stage"]


class ModelSpec(BaseModel):
    """One model reachable through litellm, named for the routing table."""

    name: str = Field(description="Logical name used by routes, breakers and cost records")
    model: str = Field(description="litellm model string, e.g. openai/gpt-4o-mini")
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = 30.0
    max_output_tokens: int = 512
    temperature: float = 0.0
    # Prices override litellm's cost map (needed for models it does not know).
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    # Local models may see confidential data; hosted ones may not.
    local: bool = False
    # Typical latency of a decision, used against a step's latency budget.
    typical_latency_ms: float | None = None
    structured: StructuredMode = "json_schema"
    # Small models need the tighter per-step schema and worked examples.
    few_shot: bool = False
    decoding: DecodingStyle = "step"
    extra: dict[str, Any] = Field(default_factory=dict, description="Passed to litellm as is")


class EmbeddedLLMConfig(BaseModel):
    """The local llama.cpp server started when no model is configured."""

    model_path: Path | None = Field(default=None, description="GGUF file; default SmolLM2-135M")
    alias: str = "smollm2-135m"
    n_ctx: int = 4096
    threads: int = 0  # 0: half the cores
    parallel: int = 1
    startup_timeout_s: float = 60.0
    log_path: Path | None = None


class GatewayConfig(BaseModel):
    """Everything the gateway needs: models, routes, limits."""

    models: list[ModelSpec] = Field(default_factory=list)
    # task type -> ordered model names (cheapest adequate first); "*" is the default route.
    routes: dict[str, list[str]] = Field(default_factory=dict)
    max_attempts: int = Field(default=3, ge=1, description="Model outputs tried per step")
    breaker_failure_threshold: int = Field(default=3, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, ge=0.0)
    debug_prompts: bool = False
    embedded: EmbeddedLLMConfig = Field(default_factory=EmbeddedLLMConfig)

    @model_validator(mode="after")
    def _check_routes(self) -> GatewayConfig:
        names = {m.name for m in self.models}
        if len(names) != len(self.models):
            raise ValueError("model names must be unique")
        for task, route in self.routes.items():
            if task != "*" and task not in TASK_TYPES:
                raise ValueError(f"unknown task type {task!r} in routes; use one of {TASK_TYPES}")
            missing = [n for n in route if n not in names]
            if missing:
                raise ValueError(f"route {task!r} names unknown models: {missing}")
        return self

    def route_for(self, task_type: str) -> list[str]:
        """Ordered model names for a task type (its own route, else ``*``, else all models)."""
        if task_type in self.routes:
            return list(self.routes[task_type])
        if "*" in self.routes:
            return list(self.routes["*"])
        return [m.name for m in self.models]

    def spec(self, name: str) -> ModelSpec:
        """The model called ``name``."""
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)
