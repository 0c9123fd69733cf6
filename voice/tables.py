"""Tables of the voice surface."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class PhoneLink(SQLModel, table=True):
    """A caller's phone number (E.164) mapped to the one user it speaks for."""

    __tablename__ = "voice_phone_links"
    __table_args__ = (Index("ix_voice_phone_links_owner", "tenant_id", "user_id"),)
    number: str = Field(primary_key=True, max_length=16)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    created_at: datetime


class CallbackPrefs(SQLModel, table=True):
    """A user's consent to be called back, the number to call and when not to."""

    __tablename__ = "voice_callback_prefs"
    tenant_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=64)
    enabled: bool
    number: str = Field(max_length=16)
    quiet_start: str = Field(max_length=5)
    """Time of day ("HH:MM", in the user's own time zone) from which no call-back is placed."""
    quiet_end: str = Field(max_length=5)
    updated_at: datetime


class Callback(SQLModel, table=True):
    """One call-back: the run event it tells the person about, and how placing it went."""

    __tablename__ = "voice_callbacks"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "dedup_key", name="uq_voice_callbacks_once"),
        Index("ix_voice_callbacks_due", "status", "next_attempt_at"),
        Index("ix_voice_callbacks_run", "tenant_id", "user_id", "run_id"),
    )
    callback_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    run_id: str = Field(max_length=40)
    kind: str = Field(max_length=16)
    dedup_key: str = Field(max_length=120)
    approval_id: str | None = Field(default=None, max_length=40)
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=300)
    attempts: int = 0
    next_attempt_at: datetime
    lease_expires_at: datetime | None = None
    provider_call_id: str | None = Field(default=None, max_length=64)
    created_at: datetime
    updated_at: datetime
