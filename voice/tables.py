"""Tables of the voice surface."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class PhoneLink(SQLModel, table=True):
    """A caller's phone number (E.164) mapped to the one user it speaks for."""

    __tablename__ = "voice_phone_links"
    __table_args__ = (Index("ix_voice_phone_links_owner", "tenant_id", "user_id"),)
    number: str = Field(primary_key=True, max_length=16)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    created_at: datetime
