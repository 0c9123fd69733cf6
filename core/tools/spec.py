"""How a tool is declared, what it receives and what it returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from functools import cached_property
from typing import Any

import jsonschema
from jsonschema.protocols import Validator
from pydantic import BaseModel, Field
from sqlalchemy import Engine


class RiskLevel(IntEnum):
    """Blueprint 6.8: what can go wrong if the call is wrong."""

    PURE_READ = 0
    LOCAL_WRITE = 1
    EXTERNAL_DRAFT = 2
    EXTERNAL_SIDE_EFFECT = 3
    HIGH_RISK = 4


class Idempotency(StrEnum):
    """What happens when a call whose outcome is unknown (worker died mid-call) is replayed.

    ``safe``: no side effect, just run again. ``keyed``: the tool dedups on the idempotency
    key it receives, so running again cannot repeat the effect. ``unsafe``: cannot be
    replayed blindly; the invocation fails with ``outcome_unknown`` for a human to check.
    """

    SAFE = "safe"
    KEYED = "keyed"
    UNSAFE = "unsafe"


class ToolResult(BaseModel):
    """The normalised result every tool call ends in (blueprint 6.7)."""

    status: str = "succeeded"  # succeeded | failed | denied
    error_type: str | None = None
    retryable: bool = False
    message: str = ""
    data: Any = None
    # How the gate got there; audit only, the agent reasons on the fields above.
    attempts: int = 1
    duration_ms: int | None = None

    @classmethod
    def ok(cls, data: Any = None, message: str = "") -> ToolResult:
        """A successful result."""
        return cls(status="succeeded", data=data, message=message)

    @classmethod
    def fail(
        cls, error_type: str, message: str, retryable: bool = False, data: Any = None
    ) -> ToolResult:
        """A failed result the agent can reason about."""
        return cls(
            status="failed", error_type=error_type, message=message, retryable=retryable, data=data
        )

    def for_agent(self) -> dict[str, Any]:
        """The five normalised fields, as the model sees them."""
        return self.model_dump(include={"status", "error_type", "retryable", "message", "data"})


class ToolError(Exception):
    """Raised by a tool implementation for a failure it can classify (normalised by the gate)."""

    def __init__(
        self, error_type: str, message: str, retryable: bool = False, data: Any = None
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retryable = retryable
        self.data = data


# Failures that say the tool itself is unwell (count towards its circuit breaker), as opposed
# to failures caused by the call's own arguments (a taken slot, an unknown recipient).
INFRA_ERRORS = frozenset(
    {"timeout", "tool_error", "upstream_error", "upstream_unavailable", "invalid_result"}
)


@dataclass(frozen=True)
class ToolContext:
    """What a tool implementation may know about the call it is serving."""

    tenant_id: str
    user_id: str
    run_id: str
    step: int
    idempotency_key: str
    engine: Engine
    approval_id: str | None = None


ToolFn = Callable[[dict[str, Any], ToolContext], Awaitable[Any]]


@dataclass
class ToolSpec:
    """A tool declared once: schema, risk, permissions, limits and behaviour on replay."""

    name: str
    description: str
    fn: ToolFn
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    result_schema: dict[str, Any] | None = None
    risk_level: RiskLevel = RiskLevel.PURE_READ
    scopes: tuple[str, ...] = ()
    timeout_s: float = 30.0
    max_attempts: int = 1
    idempotency: Idempotency = Idempotency.SAFE
    approval_required: bool | None = None  # None: decided by risk level and tenant policy
    compensate: ToolFn | None = None
    source: str = "builtin"
    # Token buckets per tenant and per user; None takes the defaults (BATON_TOOL_RATE_*,
    # BATON_TOOL_USER_RATE_*).
    rate_per_minute: float | None = None
    rate_burst: int | None = None
    user_rate_per_minute: float | None = None
    user_rate_burst: int | None = None
    # The one yes/no question a person hears before an approved call runs (None: generic).
    confirm: Callable[[dict[str, Any]], str] | None = None

    @cached_property
    def input_validator(self) -> Validator:
        """A validator of the input schema, built once (the schema itself is checked here)."""
        return _validator(self.input_schema)

    @cached_property
    def result_validator(self) -> Validator | None:
        """A validator of the result schema, if the tool declares one."""
        return _validator(self.result_schema) if self.result_schema is not None else None

    def approval_question(self, arguments: dict[str, Any]) -> str | None:
        """The tool's own confirmation question for these arguments, if it has one."""
        if self.confirm is None:
            return None
        try:
            return self.confirm(arguments)
        except (KeyError, TypeError, ValueError, ToolError):
            return None

    def schema_for_model(self) -> dict[str, Any]:
        """The part of the declaration the model is shown."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
            "risk_level": int(self.risk_level),
        }


# Formats the gate enforces: what the tools themselves parse (Python's ISO 8601 readers), so a
# value that passes the gate is one the tool can read ("start": "Caleb's Calendar" cannot).
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value)
    return True


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        date.fromisoformat(value)
    return True


def _validator(schema: dict[str, Any]) -> Validator:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=FORMATS)


class ToolCallRequest(BaseModel):
    """A tool call the agent proposed, before the gate has judged it."""

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
