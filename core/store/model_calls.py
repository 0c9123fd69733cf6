"""One row per model call, attributed to tenant, user, run, step and task type."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Float, Index, Text
from sqlmodel import Field, SQLModel

from core.store.tables import EventIdType


class ModelCall(SQLModel, table=True):
    """What one model call cost; summed for run and tenant budgets."""

    __tablename__ = "model_calls"
    __table_args__ = (
        Index("ix_model_calls_run", "tenant_id", "run_id"),
        Index("ix_model_calls_tenant", "tenant_id", "created_at"),
    )
    id: int | None = Field(default=None, sa_column=Column(EventIdType, primary_key=True))
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    run_id: str = Field(max_length=40)
    step: int
    task_type: str = Field(max_length=32)
    model: str = Field(max_length=200)
    model_name: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempt: int
    input_tokens: int
    output_tokens: int
    latency_ms: float = Field(sa_column=Column(Float, nullable=False))
    cost_usd: float = Field(sa_column=Column(Float, nullable=False))
    created_at: datetime


MODEL_CALLS = ModelCall.__table__  # type: ignore[attr-defined]
