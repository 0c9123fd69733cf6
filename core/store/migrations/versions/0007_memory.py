"""memory: records, ACL, proposal queue, full-text and vector indexes

Revision ID: 0007_memory
Revises: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0007_memory"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
Str = AutoString
When = UTCDateTime
DIM = 384


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("memory_id", Str(length=40), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("scope", Str(length=16), nullable=False),
        sa.Column("scope_ref", Str(length=80), nullable=False),
        sa.Column("subject", Str(length=200), nullable=False),
        sa.Column("type", Str(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source_run_id", Str(length=40), nullable=False),
        sa.Column("source_message", Str(length=80), nullable=False),
        sa.Column("sources", JSON, nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("status", Str(length=16), nullable=False),
        sa.Column("visibility", Str(length=16), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("supersedes", Str(length=40), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", Str(length=64), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.Column("expires_at", When(), nullable=True),
        sa.Column("last_used_at", When(), nullable=True),
        sa.PrimaryKeyConstraint("memory_id"),
        sa.CheckConstraint("scope in ('user', 'team', 'tenant', 'task')", name="ck_memories_scope"),
        sa.CheckConstraint(
            "type in ('preference', 'fact', 'relationship', 'procedure', 'episode')",
            name="ck_memories_type",
        ),
        sa.CheckConstraint("length(source_run_id) > 0", name="ck_memories_source"),
        sa.CheckConstraint("confidence >= 0 and confidence <= 1", name="ck_memories_confidence"),
    )
    op.create_index("ix_memories_owner", "memories", ["tenant_id", "user_id", "updated_at"])
    op.create_index("ix_memories_subject", "memories", ["tenant_id", "subject", "type"])

    op.create_table(
        "memory_acl",
        sa.Column("memory_id", Str(length=40), nullable=False),
        sa.Column("principal", Str(length=120), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.PrimaryKeyConstraint("memory_id", "principal"),
        sa.ForeignKeyConstraint(["memory_id"], ["memories.memory_id"], ondelete="CASCADE"),
    )
    op.create_index("ix_memory_acl_principal", "memory_acl", ["tenant_id", "principal"])

    op.create_table(
        "memory_proposals",
        sa.Column("proposal_id", Str(length=40), nullable=False),
        sa.Column("tenant_id", Str(length=64), nullable=False),
        sa.Column("user_id", Str(length=64), nullable=False),
        sa.Column("run_id", Str(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("status", Str(length=16), nullable=False),
        sa.Column("outcome", Str(length=16), nullable=True),
        sa.Column("memory_id", Str(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("processed_at", When(), nullable=True),
        sa.PrimaryKeyConstraint("proposal_id"),
        sa.UniqueConstraint("run_id", "seq", name="uq_memory_proposals_event"),
    )
    op.create_index("ix_memory_proposals_status", "memory_proposals", ["status", "created_at"])

    if op.get_bind().dialect.name == "sqlite":
        _sqlite_indexes()
    else:
        op.execute(
            "ALTER TABLE memories ADD COLUMN content_tsv tsvector GENERATED ALWAYS AS "
            "(to_tsvector('english', subject || ' ' || content)) STORED"
        )
        op.execute("CREATE INDEX ix_memories_tsv ON memories USING gin (content_tsv)")


def _sqlite_indexes() -> None:
    bind = op.get_bind()
    try:
        bind.exec_driver_sql("SELECT vec_version()")
    except Exception as exc:
        raise RuntimeError(
            "sqlite-vec is not loaded on this SQLite connection; install pysqlite3-binary and "
            "sqlite-vec (the standard library's sqlite3 here cannot load extensions)"
        ) from exc
    op.execute(
        "CREATE VIRTUAL TABLE memory_fts USING fts5("
        "memory_id UNINDEXED, subject, content, tokenize='porter unicode61')"
    )
    op.execute(
        "CREATE VIRTUAL TABLE memory_vec USING vec0("
        f"memory_id text primary key, tenant_id text partition key, "
        f"embedding float[{DIM}] distance_metric=cosine)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS memory_vec")
        op.execute("DROP TABLE IF EXISTS memory_fts")
    op.drop_table("memory_proposals")
    op.drop_table("memory_acl")
    op.drop_table("memories")
