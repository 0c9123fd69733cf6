"""tables of the built-in tools: calendar, email drafts and sends, notes

Revision ID: 0003_tools
Revises: 0001_core
Create Date: 2026-11-21 14:55:04.514048
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0003_tools"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts() -> sqlmodel.sql.sqltypes.UTCDateTime:
    return sqlmodel.sql.sqltypes.UTCDateTime()


def upgrade() -> None:
    op.create_table(
        "calendar_events",
        sa.Column("event_id", _str(40), nullable=False),
        sa.Column("tenant_id", _str(64), nullable=False),
        sa.Column("user_id", _str(64), nullable=False),
        sa.Column("title", _str(300), nullable=False),
        sa.Column("start_at", _ts(), nullable=False),
        sa.Column("end_at", _ts(), nullable=False),
        sa.Column("attendees", JSON, nullable=True),
        sa.Column("location", _str(300), nullable=True),
        sa.Column("status", _str(16), nullable=False),
        sa.Column("idempotency_key", _str(200), nullable=True),
        sa.Column("run_id", _str(40), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("cancelled_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_calendar_idem"),
    )
    op.create_index(
        "ix_calendar_owner_start", "calendar_events", ["tenant_id", "user_id", "start_at"]
    )
    op.create_table(
        "email_drafts",
        sa.Column("draft_id", _str(40), nullable=False),
        sa.Column("tenant_id", _str(64), nullable=False),
        sa.Column("user_id", _str(64), nullable=False),
        sa.Column("to", JSON, nullable=False),
        sa.Column("cc", JSON, nullable=True),
        sa.Column("subject", _str(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", _str(16), nullable=False),
        sa.Column("idempotency_key", _str(200), nullable=True),
        sa.Column("run_id", _str(40), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("sent_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("draft_id"),
        sa.UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_email_drafts_idem"),
    )
    op.create_index("ix_email_drafts_owner", "email_drafts", ["tenant_id", "user_id", "created_at"])
    op.create_table(
        "email_sends",
        sa.Column("send_id", _str(40), nullable=False),
        sa.Column("tenant_id", _str(64), nullable=False),
        sa.Column("user_id", _str(64), nullable=False),
        sa.Column("idempotency_key", _str(200), nullable=False),
        sa.Column("message_id", _str(300), nullable=False),
        sa.Column("draft_id", _str(40), nullable=True),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("subject", _str(500), nullable=False),
        sa.Column("smtp_reply", _str(500), nullable=True),
        sa.Column("run_id", _str(40), nullable=True),
        sa.Column("sent_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("send_id"),
        sa.UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_email_sends_idem"),
    )
    op.create_table(
        "notes",
        sa.Column("note_id", _str(40), nullable=False),
        sa.Column("tenant_id", _str(64), nullable=False),
        sa.Column("user_id", _str(64), nullable=False),
        sa.Column("title", _str(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", JSON, nullable=True),
        sa.Column("idempotency_key", _str(200), nullable=True),
        sa.Column("run_id", _str(40), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("note_id"),
        sa.UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_notes_idem"),
    )
    op.create_index("ix_notes_owner", "notes", ["tenant_id", "user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notes_owner", table_name="notes")
    op.drop_table("notes")
    op.drop_table("email_sends")
    op.drop_index("ix_email_drafts_owner", table_name="email_drafts")
    op.drop_table("email_drafts")
    op.drop_index("ix_calendar_owner_start", table_name="calendar_events")
    op.drop_table("calendar_events")
