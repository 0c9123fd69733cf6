"""handoff: devices and the push outbox

Revision ID: 0006_handoff
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0006_handoff"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", Str(length=40), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("kind", Str(length=16), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("address_hash", Str(length=64), nullable=False),
        sa.Column("keys_json", JSON, nullable=True),
        sa.Column("label", Str(length=100), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("device_id"),
        sa.UniqueConstraint("tenant_id", "user_id", "address_hash", name="uq_devices_address"),
    )
    op.create_index("ix_devices_owner", "devices", ["tenant_id", "user_id"])
    op.create_table(
        "push_outbox",
        sa.Column("push_id", Str(length=40), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("run_id", Str(length=40), nullable=False),
        sa.Column("device_id", Str(length=40), nullable=False),
        sa.Column("dedup_key", Str(length=120), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", Str(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When(), nullable=False),
        sa.Column("lease_token", Str(length=40), nullable=True),
        sa.Column("lease_expires_at", When(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.Text(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("delivered_at", When(), nullable=True),
        sa.PrimaryKeyConstraint("push_id"),
        sa.UniqueConstraint("device_id", "dedup_key", name="uq_push_outbox_dedup"),
    )
    op.create_index("ix_push_outbox_due", "push_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_push_outbox_run", "push_outbox", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_push_outbox_run", table_name="push_outbox")
    op.drop_index("ix_push_outbox_due", table_name="push_outbox")
    op.drop_table("push_outbox")
    op.drop_index("ix_devices_owner", table_name="devices")
    op.drop_table("devices")
