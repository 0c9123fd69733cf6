"""spans: the local store of run traces (when no OTLP endpoint is configured)

Revision ID: 0011_spans
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0011_spans"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Str = AutoString


def upgrade() -> None:
    op.create_table(
        "spans",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("run_id", Str(length=40), nullable=False),
        sa.Column("trace_id", Str(length=32), nullable=False),
        sa.Column("span_id", Str(length=16), nullable=False),
        sa.Column("parent_span_id", Str(length=16), nullable=True),
        sa.Column("name", Str(length=128), nullable=False),
        sa.Column("status", Str(length=8), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_ns", sa.BigInteger(), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trace_id", "span_id", name="uq_spans_span"),
    )
    op.create_index("ix_spans_run", "spans", ["tenant_id", "user_id", "run_id", "start_ns"])


def downgrade() -> None:
    op.drop_index("ix_spans_run", table_name="spans")
    op.drop_table("spans")
