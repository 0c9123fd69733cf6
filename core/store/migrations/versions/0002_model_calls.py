"""model call accounting

Revision ID: 0002_model_calls
Revises: 0001_core
Create Date: 2026-11-21 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002_model_calls"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "model_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", _str(64), nullable=False),
        sa.Column("user_id", _str(64), nullable=False),
        sa.Column("run_id", _str(40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("task_type", _str(32), nullable=False),
        sa.Column("model", _str(200), nullable=False),
        sa.Column("model_name", _str(100), nullable=True),
        sa.Column("status", _str(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("model_calls", schema=None) as batch_op:
        batch_op.create_index("ix_model_calls_run", ["tenant_id", "run_id"], unique=False)
        batch_op.create_index("ix_model_calls_tenant", ["tenant_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("model_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_model_calls_tenant")
        batch_op.drop_index("ix_model_calls_run")
    op.drop_table("model_calls")
