"""SQLModel tables of the run core.

Every row that belongs to a person carries ``tenant_id`` and ``user_id`` so that each query can
be scoped before it filters. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; Postgres wants BIGINT for an event log.
EventIdType = BigInteger().with_variant(Integer(), "sqlite")


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSONType, nullable=nullable))


class Tenant(SQLModel, table=True):
    """An organisation; the outermost isolation boundary."""

    __tablename__ = "tenants"
    tenant_id: str = Field(primary_key=True, max_length=64)
    created_at: datetime


class User(SQLModel, table=True):
    """A person inside a tenant."""

    __tablename__ = "users"
    tenant_id: str = Field(primary_key=True, foreign_key="tenants.tenant_id", max_length=64)
    user_id: str = Field(primary_key=True, max_length=64)
    display_name: str | None = None
    scopes: list[str] | None = _json()
    created_at: datetime


class ApiKey(SQLModel, table=True):
    """A bearer key; only the SHA-256 of its secret is stored."""

    __tablename__ = "api_keys"
    key_id: str = Field(primary_key=True, max_length=32)
    tenant_id: str = Field(index=True, max_length=64)
    user_id: str = Field(max_length=64)
    secret_hash: str = Field(max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None


class Run(SQLModel, table=True):
    """The materialised view of a run, a projection of its events (plus its lease)."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_runs_idem"),
        Index("ix_runs_claim", "status", "lease_expires_at"),
        Index("ix_runs_owner", "tenant_id", "user_id", "created_at"),
    )
    run_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    status: str = Field(max_length=32)
    goal: str = Field(sa_column=Column(Text, nullable=False))
    channel: str = Field(default="api", max_length=16)
    current_step: int = 0
    tool_calls: int = 0
    max_steps: int
    max_tool_calls: int
    max_wall_seconds: int
    deadline_at: datetime
    latest_checkpoint_id: str | None = Field(default=None, max_length=40)
    pending_approval_id: str | None = Field(default=None, max_length=40)
    # A deferred tool call (rate limit, paused tool) is retried from then; claims wait for it.
    not_before: datetime | None = None
    result: str | None = Field(default=None, sa_column=Column(Text))
    failure_reason: str | None = Field(default=None, sa_column=Column(Text))
    parent_run_id: str | None = Field(default=None, max_length=40)
    meta: dict[str, Any] | None = _json()
    last_event_seq: int = 0
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_hash: str | None = Field(default=None, max_length=64)
    lease_owner: str | None = Field(default=None, max_length=80)
    lease_token: str | None = Field(default=None, max_length=40)
    lease_expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None
    completed_at: datetime | None = None


class RunEvent(SQLModel, table=True):
    """One append-only event; ``seq`` is gapless per run, ``id`` orders all events."""

    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_run_events_seq"),)
    id: int | None = Field(default=None, sa_column=Column(EventIdType, primary_key=True))
    run_id: str = Field(max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    seq: int
    type: str = Field(max_length=48)
    data: dict[str, Any] | None = _json()
    created_at: datetime


class Checkpoint(SQLModel, table=True):
    """The state after a step, enough to resume without guessing."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_checkpoints_step"),)
    checkpoint_id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(max_length=40)
    step: int
    state_json: dict[str, Any] = _json(nullable=False)
    pending_action_json: dict[str, Any] | None = _json()
    model_call_json: dict[str, Any] | None = _json()
    tool_call_json: dict[str, Any] | None = _json()
    tool_result_json: dict[str, Any] | None = _json()
    state_hash: str = Field(max_length=64)
    created_at: datetime


class ToolInvocation(SQLModel, table=True):
    """A tool call, recorded before it executes; the key makes a replay return the stored result."""

    __tablename__ = "tool_invocations"
    __table_args__ = (
        UniqueConstraint("tool_name", "idempotency_key", name="uq_tool_invocations_key"),
        # An approval authorises exactly one execution.
        UniqueConstraint("approval_id", name="uq_tool_invocations_approval"),
        Index("ix_tool_invocations_run", "run_id", "step"),
    )
    tool_call_id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    step: int
    checkpoint_id: str | None = Field(default=None, max_length=40)
    tool_name: str = Field(max_length=128)
    arguments_json: dict[str, Any] = _json(nullable=False)
    arguments_hash: str = Field(max_length=64)
    idempotency_key: str = Field(max_length=200)
    status: str = Field(max_length=16)
    approval_id: str | None = Field(default=None, max_length=40)
    attempts: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result_json: dict[str, Any] | None = _json()
    error_json: dict[str, Any] | None = _json()


class Approval(SQLModel, table=True):
    """A pending or decided human approval for one exact tool call."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_run", "run_id", "status"),)
    approval_id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    step: int
    tool_name: str = Field(max_length=128)
    arguments_json: dict[str, Any] = _json(nullable=False)
    arguments_hash: str = Field(max_length=64)
    risk_level: int = 0
    question: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(max_length=16)
    decided_by: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=16)
    evidence: str | None = Field(default=None, sa_column=Column(Text))
    supersedes: str | None = Field(default=None, max_length=40)
    created_at: datetime
    decided_at: datetime | None = None


class Artifact(SQLModel, table=True):
    """A result too large for the channel: stored as a blob, referenced by runs and pushes."""

    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_artifacts_idem"),
        Index("ix_artifacts_run", "run_id"),
    )
    artifact_id: str = Field(primary_key=True, max_length=40)
    run_id: str | None = Field(default=None, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(default="report", max_length=32)
    content_type: str = Field(max_length=100)
    size_bytes: int
    checksum: str = Field(max_length=64)
    storage_key: str = Field(max_length=300)
    idempotency_key: str | None = Field(default=None, max_length=200)
    created_at: datetime
