"""Tables of the webhooks (migration 0010_webhooks).

A subscription belongs to a tenant, not to one person: it hears the events of every run of the
tenant. Each delivery row is one event for one subscription, written in the transaction of the
event; its ``delivery_id`` is the receiver's dedupe key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

_JSON = JSON().with_variant(JSONB(), "postgresql")


class WebhookRecord(SQLModel, table=True):
    """A tenant's subscription: where to send which events, and the key that signs them."""

    __tablename__ = "webhooks"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_webhooks_idem"),
        Index("ix_webhooks_tenant", "tenant_id", "status"),
    )
    webhook_id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    created_by: str = Field(max_length=64)
    url: str = Field(sa_column=Column(Text, nullable=False))
    events: list[str] = Field(default_factory=list, sa_column=Column(_JSON, nullable=False))
    # The HMAC key must be readable to sign with, so it is stored as issued.
    secret: str = Field(max_length=100)
    status: str = Field(max_length=16)  # active | disabled
    consecutive_failures: int = 0
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    disabled_at: datetime | None = None
    idempotency_key: str | None = Field(default=None, max_length=200)
    created_at: datetime
    updated_at: datetime


class WebhookDeliveryRecord(SQLModel, table=True):
    """One event for one subscription: the signed body and how sending it went.

    ``status``: pending -> sending -> delivered | failed (attempts used up). The unique
    (webhook, run, seq) constraint keeps one delivery per event however often it is seen.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "run_id", "event_seq", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_log", "tenant_id", "webhook_id", "created_at"),
    )
    delivery_id: str = Field(primary_key=True, max_length=40)
    webhook_id: str = Field(max_length=40)
    tenant_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    run_id: str = Field(max_length=40)
    event: str = Field(max_length=40)
    event_seq: int
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: datetime
    lease_token: str | None = Field(default=None, max_length=40)
    lease_expires_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    delivered_at: datetime | None = None


WEBHOOKS = WebhookRecord.__table__  # type: ignore[attr-defined]
DELIVERIES = WebhookDeliveryRecord.__table__  # type: ignore[attr-defined]
