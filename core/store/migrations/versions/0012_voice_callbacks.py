"""voice: call-back consent per user, and the call-backs placed

Revision ID: 0012_voice_callbacks
Revises: 0005_voice
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString as Str
from sqlmodel.sql.sqltypes import UTCDateTime

revision: str = "0012_voice_callbacks"
down_revision: str | Sequence[str] | None = "0005_voice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_callback_prefs",
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("number", Str(length=16), nullable=False),
        sa.Column("quiet_start", Str(length=5), nullable=False),
        sa.Column("quiet_end", Str(length=5), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id"),
    )
    op.create_table(
        "voice_callbacks",
        sa.Column("callback_id", Str(length=40), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("run_id", Str(length=40), nullable=False),
        sa.Column("kind", Str(length=16), nullable=False),
        sa.Column("dedup_key", Str(length=120), nullable=False),
        sa.Column("approval_id", Str(length=40), nullable=True),
        sa.Column("status", Str(length=16), nullable=False),
        sa.Column("reason", Str(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("provider_call_id", Str(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("callback_id"),
        sa.UniqueConstraint("tenant_id", "user_id", "dedup_key", name="uq_voice_callbacks_once"),
    )
    with op.batch_alter_table("voice_callbacks", schema=None) as batch_op:
        batch_op.create_index("ix_voice_callbacks_due", ["status", "next_attempt_at"])
        batch_op.create_index("ix_voice_callbacks_run", ["tenant_id", "user_id", "run_id"])


def downgrade() -> None:
    with op.batch_alter_table("voice_callbacks", schema=None) as batch_op:
        batch_op.drop_index("ix_voice_callbacks_run")
        batch_op.drop_index("ix_voice_callbacks_due")
    op.drop_table("voice_callbacks")
    op.drop_table("voice_callback_prefs")
