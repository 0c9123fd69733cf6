"""webhooks: tenant subscriptions to run events and their delivery outbox

Revision ID: 0010_webhooks
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0010_webhooks"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
Str = AutoString
When = UTCDateTime


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", Str(length=40), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("created_by", Str(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("secret", Str(length=100), nullable=False),
        sa.Column("status", Str(length=16), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_at", When(), nullable=True),
        sa.Column("idempotency_key", Str(length=200), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id"),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_webhooks_idem"),
    )
    op.create_index("ix_webhooks_tenant", "webhooks", ["tenant_id", "status"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", Str(length=40), nullable=False),
        sa.Column("webhook_id", Str(length=40), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("run_id", Str(length=40), nullable=False),
        sa.Column("event", Str(length=40), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", Str(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When(), nullable=False),
        sa.Column("lease_token", Str(length=40), nullable=True),
        sa.Column("lease_expires_at", When(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("delivered_at", When(), nullable=True),
        sa.PrimaryKeyConstraint("delivery_id"),
        sa.UniqueConstraint(
            "webhook_id", "run_id", "event_seq", name="uq_webhook_deliveries_event"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_webhook_deliveries_log",
        "webhook_deliveries",
        ["tenant_id", "webhook_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_log", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhooks_tenant", table_name="webhooks")
    op.drop_table("webhooks")
