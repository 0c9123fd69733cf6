"""Tables of the handoff surface: the user's devices and the push outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Device(SQLModel, table=True):
    """Where a user's notifications go: an FCM registration token or a Web Push subscription."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "address_hash", name="uq_devices_address"),
        Index("ix_devices_owner", "tenant_id", "user_id"),
    )
    device_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # fcm | webpush
    # The FCM token or the Web Push endpoint URL; its SHA-256 makes it unique per user.
    address: str = Field(sa_column=Column(Text, nullable=False))
    address_hash: str = Field(max_length=64)
    keys_json: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    label: str | None = Field(default=None, max_length=100)
    created_at: datetime
    updated_at: datetime


class PushOutbox(SQLModel, table=True):
    """One notification for one device, written with the event that causes it.

    ``dedup_key`` names what is announced (``artifact:<id>``, ``approval:<id>``); the unique
    constraint keeps it to one row per device however often the event is seen.
    """

    __tablename__ = "push_outbox"
    __table_args__ = (
        UniqueConstraint("device_id", "dedup_key", name="uq_push_outbox_dedup"),
        Index("ix_push_outbox_due", "status", "next_attempt_at"),
        Index("ix_push_outbox_run", "run_id"),
    )
    push_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    run_id: str = Field(max_length=40)
    device_id: str = Field(max_length=40)
    dedup_key: str = Field(max_length=120)
    payload: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    # pending -> sending -> delivered | failed | dropped (device gone)
    status: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: datetime
    lease_token: str | None = Field(default=None, max_length=40)
    lease_expires_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    provider_message_id: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    delivered_at: datetime | None = None
