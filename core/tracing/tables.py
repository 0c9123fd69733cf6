"""The local span store's table (migrations 0011_spans, 0013_call_spans).

Each row belongs to a run or to a call (one of ``run_id`` and ``call_id`` is set) and
carries its tenant and user, so a trace is read scoped to
its owner like every other run resource. ``id`` orders rows by arrival: the oldest go first
when the table is over its bound.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

_JSON = JSON().with_variant(JSONB(), "postgresql")
_ID = BigInteger().with_variant(Integer(), "sqlite")


class SpanRecord(SQLModel, table=True):
    """One finished span of a run or of a call."""

    __tablename__ = "spans"
    __table_args__ = (
        UniqueConstraint("trace_id", "span_id", name="uq_spans_span"),
        Index("ix_spans_run", "tenant_id", "user_id", "run_id", "start_ns"),
        Index(
            "ix_spans_call",
            "tenant_id",
            "user_id",
            "call_id",
            "start_ns",
            postgresql_where=text("call_id IS NOT NULL"),
            sqlite_where=text("call_id IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, sa_column=Column(_ID, primary_key=True))
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    run_id: str | None = Field(default=None, max_length=40)
    call_id: str | None = Field(default=None, max_length=40)
    trace_id: str = Field(max_length=32)
    span_id: str = Field(max_length=16)
    parent_span_id: str | None = Field(default=None, max_length=16)
    name: str = Field(max_length=128)
    status: str = Field(max_length=8)
    start_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Moments inside the span: [{"name", "time_ns", "attributes"}].
    events: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(_JSON, nullable=False)
    )
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(_JSON, nullable=False)
    )


SPANS = SpanRecord.__table__  # type: ignore[attr-defined]
