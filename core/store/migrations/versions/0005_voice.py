"""voice: phone numbers linked to users

Revision ID: 0005_voice
Revises: 0001_core
Create Date: 2026-11-21 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005_voice"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_phone_links",
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )
    with op.batch_alter_table("voice_phone_links", schema=None) as batch_op:
        batch_op.create_index("ix_voice_phone_links_owner", ["tenant_id", "user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("voice_phone_links", schema=None) as batch_op:
        batch_op.drop_index("ix_voice_phone_links_owner")
    op.drop_table("voice_phone_links")
