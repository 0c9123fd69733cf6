"""spans: a span belongs to a run or to a call (one trace per call)

Revision ID: 0013_call_spans
Revises: 0011_spans
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str

revision: str = "0013_call_spans"
down_revision: str | Sequence[str] | None = "0011_spans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite cannot drop a NOT NULL in place: the batch copies the table.
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("call_id", Str(length=40), nullable=True))
        batch_op.alter_column("run_id", existing_type=Str(length=40), nullable=True)
        batch_op.create_index(
            "ix_spans_call", ["tenant_id", "user_id", "call_id", "start_ns"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM spans WHERE run_id IS NULL")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index("ix_spans_call")
        batch_op.alter_column("run_id", existing_type=Str(length=40), nullable=False)
        batch_op.drop_column("call_id")
