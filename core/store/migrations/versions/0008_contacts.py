"""contacts: per-user address book and user preferences (time zone)

Revision ID: 0008_contacts
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0008_contacts"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
Str = AutoString
When = UTCDateTime


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("contact_id", Str(length=40), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("name", Str(length=200), nullable=False),
        sa.Column("email", Str(length=320), nullable=True),
        sa.Column("phone", Str(length=64), nullable=True),
        sa.Column("aliases", JSON, nullable=False),
        sa.Column("idempotency_key", Str(length=200), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("contact_id"),
        sa.UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_contacts_idem"),
        sa.CheckConstraint("length(name) > 0", name="ck_contacts_name"),
    )
    op.create_index("ix_contacts_owner", "contacts", ["tenant_id", "user_id", "name"])
    op.create_index("ix_contacts_email", "contacts", ["tenant_id", "user_id", "email"])

    op.create_table(
        "user_preferences",
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("timezone", Str(length=64), nullable=True),
        sa.Column("updated_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("user_preferences")
    op.drop_index("ix_contacts_email", table_name="contacts")
    op.drop_index("ix_contacts_owner", table_name="contacts")
    op.drop_table("contacts")
