"""Tables of the memory store (migration 0007_memory).

A memory belongs to one tenant and one owner (the user who can edit and delete it); who may
*read* it is its ACL, one ``memory_acl`` row per principal, so retrieval filters with an
indexed join inside the query. Full-text and vector indexes live beside the rows: on SQLite
the FTS5 table ``memory_fts`` and the sqlite-vec table ``memory_vec``; on Postgres the
generated ``content_tsv`` column and the ``embedding`` blob of the row itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

_JSON = JSON().with_variant(JSONB(), "postgresql")


class MemoryRecord(SQLModel, table=True):
    """One memory: scoped, attributed, time-aware and confidence-scored (blueprint 4.7)."""

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_owner", "tenant_id", "user_id", "updated_at"),
        Index("ix_memories_subject", "tenant_id", "subject", "type"),
    )
    memory_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    scope: str = Field(max_length=16)
    scope_ref: str = Field(max_length=80)
    subject: str = Field(max_length=200)
    type: str = Field(max_length=16)
    content: str = Field(sa_column=Column(Text, nullable=False))
    source_run_id: str = Field(max_length=40)
    source_message: str = Field(max_length=80)
    sources: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(_JSON))
    confidence: float
    importance: float
    status: str = Field(max_length=16)
    visibility: str = Field(max_length=16)
    pinned: bool = False
    supersedes: str | None = Field(default=None, max_length=40)
    embedding: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    embedding_model: str | None = Field(default=None, max_length=64)
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class MemoryAcl(SQLModel, table=True):
    """One principal allowed to read a memory (``user:<id>``, ``team:<id>``, ``task:<run>``,
    ``tenant``)."""

    __tablename__ = "memory_acl"
    __table_args__ = (Index("ix_memory_acl_principal", "tenant_id", "principal"),)
    memory_id: str = Field(primary_key=True, max_length=40)
    principal: str = Field(primary_key=True, max_length=120)
    tenant_id: str = Field(max_length=64)


class MemoryProposal(SQLModel, table=True):
    """A ``MemoryWriteProposed`` event queued for the background pipeline, and its outcome."""

    __tablename__ = "memory_proposals"
    __table_args__ = (
        UniqueConstraint("run_id", "seq", name="uq_memory_proposals_event"),
        Index("ix_memory_proposals_status", "status", "created_at"),
    )
    proposal_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    run_id: str = Field(max_length=40)
    seq: int
    data: dict[str, Any] = Field(sa_column=Column(_JSON, nullable=False))
    status: str = Field(max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    memory_id: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    created_at: datetime
    processed_at: datetime | None = None


MEMORIES = MemoryRecord.__table__  # type: ignore[attr-defined]
ACL = MemoryAcl.__table__  # type: ignore[attr-defined]
PROPOSALS = MemoryProposal.__table__  # type: ignore[attr-defined]
