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
        # Only a call's spans are indexed: a run's span pays nothing for it.
        batch_op.create_index(
            "ix_spans_call",
            ["tenant_id", "user_id", "call_id", "start_ns"],
            unique=False,
            postgresql_where=sa.text("call_id IS NOT NULL"),
            sqlite_where=sa.text("call_id IS NOT NULL"),
        )


def downgrade() -> None:
    op.execute("DELETE FROM spans WHERE run_id IS NULL")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index("ix_spans_call")
        batch_op.alter_column("run_id", existing_type=Str(length=40), nullable=False)
        batch_op.drop_column("call_id")
