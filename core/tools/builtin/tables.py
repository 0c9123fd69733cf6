"""Tables of the built-in tools: calendar events, email drafts and sends, notes.

Every row carries ``tenant_id`` and ``user_id`` and every query scopes by them first. Rows
created by a tool call carry the call's idempotency key, unique per user, so a replayed call
finds what the first one made instead of making it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.store.tables import JSONType


def _json() -> Any:
    return Field(default=None, sa_column=Column(JSONType, nullable=True))


class CalendarEvent(SQLModel, table=True):
    """A meeting on a user's calendar."""

    __tablename__ = "calendar_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_calendar_idem"),
        Index("ix_calendar_owner_start", "tenant_id", "user_id", "start_at"),
    )
    event_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    title: str = Field(max_length=300)
    start_at: datetime
    end_at: datetime
    attendees: list[str] | None = _json()
    location: str | None = Field(default=None, max_length=300)
    status: str = Field(max_length=16)  # booked | cancelled
    idempotency_key: str | None = Field(default=None, max_length=200)
    run_id: str | None = Field(default=None, max_length=40)
    created_at: datetime
    cancelled_at: datetime | None = None


class EmailDraft(SQLModel, table=True):
    """An email written but not sent (sending it is a separate, approved call)."""

    __tablename__ = "email_drafts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_email_drafts_idem"),
        Index("ix_email_drafts_owner", "tenant_id", "user_id", "created_at"),
    )
    draft_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    to: list[str] = Field(sa_column=Column(JSONType, nullable=False))
    cc: list[str] | None = _json()
    subject: str = Field(max_length=500)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=16)  # draft | sent
    idempotency_key: str | None = Field(default=None, max_length=200)
    run_id: str | None = Field(default=None, max_length=40)
    created_at: datetime
    sent_at: datetime | None = None


class EmailSend(SQLModel, table=True):
    """The sent ledger: one row per idempotency key, committed right after the SMTP 250."""

    __tablename__ = "email_sends"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_email_sends_idem"),
    )
    send_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    idempotency_key: str = Field(max_length=200)
    message_id: str = Field(max_length=300)
    draft_id: str | None = Field(default=None, max_length=40)
    recipients: list[str] = Field(sa_column=Column(JSONType, nullable=False))
    subject: str = Field(max_length=500)
    smtp_reply: str | None = Field(default=None, max_length=500)
    run_id: str | None = Field(default=None, max_length=40)
    sent_at: datetime


class Note(SQLModel, table=True):
    """A note the user asked to keep."""

    __tablename__ = "notes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_notes_idem"),
        Index("ix_notes_owner", "tenant_id", "user_id", "created_at"),
    )
    note_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    title: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    tags: list[str] | None = _json()
    idempotency_key: str | None = Field(default=None, max_length=200)
    run_id: str | None = Field(default=None, max_length=40)
    created_at: datetime
