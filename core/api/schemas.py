"""Request and response bodies of the run API (versioned by field additions only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ValidationIssue(BaseModel):
    """One field the request got wrong."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every refusal: a stable machine code and a reason a person can act on."""

    error: str = Field(description="Machine-readable code, e.g. not_found or invalid_request")
    detail: str | list[ValidationIssue]


class RunCreate(BaseModel):
    """POST /runs."""

    model_config = ConfigDict(extra="forbid")
    goal: str = Field(description="What the person wants done")
    channel: Literal["api", "voice", "web", "mobile", "cli"] = "api"
    parent_run_id: str | None = None
    meta: dict[str, Any] | None = None
    # strict: JSON true or "3" is not a step count
    max_steps: int | None = Field(default=None, ge=1, strict=True)
    max_tool_calls: int | None = Field(default=None, ge=1, strict=True)
    max_wall_seconds: int | None = Field(default=None, ge=1, strict=True)


class MessageIn(BaseModel):
    """A text message from the person to the run."""

    model_config = ConfigDict(extra="forbid")
    text: str


class ResumeIn(BaseModel):
    """POST /runs/{id}/resume."""

    model_config = ConfigDict(extra="forbid")
    message: str | None = None


class CancelIn(BaseModel):
    """POST /runs/{id}/cancel."""

    model_config = ConfigDict(extra="forbid")
    reason: str = ""


class ApproveIn(BaseModel):
    """POST /runs/{id}/approve."""

    model_config = ConfigDict(extra="forbid")
    approval_id: str
    decision: Literal["approve", "deny"]
    arguments: dict[str, Any] | None = Field(
        default=None, description="Edited arguments (creates a new approval for exactly these)"
    )


class ApprovalOut(BaseModel):
    """An approval as the API shows it."""

    approval_id: str
    run_id: str
    tool_name: str
    arguments: dict[str, Any]
    risk_level: int
    question: str | None
    status: str
    channel: str | None
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ApprovalOut:
        """From an approvals row."""
        return cls(
            arguments=row["arguments_json"], **{k: row[k] for k in cls.model_fields if k in row}
        )


class RunOut(BaseModel):
    """A run as the API shows it."""

    run_id: str
    status: str
    goal: str
    channel: str
    current_step: int
    tool_calls: int
    max_steps: int
    max_tool_calls: int
    max_wall_seconds: int
    result: str | None
    failure_reason: str | None
    pending_approval_id: str | None
    pending_approval: ApprovalOut | None = None
    not_before: datetime | None = Field(
        default=None,
        description="A tool call waits for its rate limit or paused tool until then (queued)",
    )
    parent_run_id: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any], approval: dict[str, Any] | None = None) -> RunOut:
        """From a run view (and its pending approval, if any)."""
        fields = {k: row[k] for k in cls.model_fields if k in row}
        return cls(**fields, pending_approval=ApprovalOut.of(approval) if approval else None)


class EventOut(BaseModel):
    """One event of a run."""

    seq: int
    type: str
    data: dict[str, Any] | None
    created_at: datetime
