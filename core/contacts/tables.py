"""Tables of the address book and of per-user preferences (migration 0008_contacts).

Every row carries ``tenant_id`` and ``user_id``: a contact belongs to exactly one person, and
every query scopes to both before it filters.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

_JSON = JSON().with_variant(JSONB(), "postgresql")


class ContactRecord(SQLModel, table=True):
    """One person in a user's address book."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_owner", "tenant_id", "user_id", "name"),
        Index("ix_contacts_email", "tenant_id", "user_id", "email"),
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_contacts_idem"),
    )
    contact_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(_JSON, nullable=False))
    idempotency_key: str | None = Field(default=None, max_length=200)
    created_at: datetime
    updated_at: datetime


class UserPreference(SQLModel, table=True):
    """A user's settings that change how Baton understands them (their IANA time zone)."""

    __tablename__ = "user_preferences"
    tenant_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    updated_at: datetime


CONTACTS = ContactRecord.__table__  # type: ignore[attr-defined]
PREFERENCES = UserPreference.__table__  # type: ignore[attr-defined]
