"""/webhooks: the tenant's signed webhook subscriptions to run events, and their delivery log.

A webhook belongs to the tenant and hears the runs of all its users, so managing one needs the
privileged ``webhooks:manage`` (or ``admin``) scope, granted only by being listed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from core.api.deps import IdentityDep, RuntimeDep
from core.auth.keys import Identity
from core.auth.scopes import Scope, has_scope
from core.errors import Forbidden
from core.webhooks.events import WebhookEvent
from core.webhooks.service import (
    MAX_URL_CHARS,
    Delivery,
    Webhook,
    create_webhook,
    delete_webhook,
    enable_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
)

router = APIRouter(tags=["webhooks"])


def manager(who: IdentityDep) -> Identity:
    """The caller, if they may manage the tenant's webhooks."""
    if not has_scope(who, Scope.WEBHOOKS):
        raise Forbidden("managing webhooks needs the 'webhooks:manage' or 'admin' scope")
    return who


ManagerDep = Annotated[Identity, Depends(manager)]


class WebhookOut(BaseModel):
    """A webhook as the tenant sees it; ``disabled_reason`` says why delivery stopped."""

    webhook_id: str
    url: str
    events: list[WebhookEvent]
    status: str = Field(description="active | disabled")
    consecutive_failures: int = Field(description="Deliveries failed in a row")
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        """From the service's webhook."""
        return cls(
            webhook_id=webhook.webhook_id,
            url=webhook.url,
            events=list(webhook.events),
            status=webhook.status,
            consecutive_failures=webhook.consecutive_failures,
            disabled_reason=webhook.disabled_reason,
            disabled_at=webhook.disabled_at,
            created_by=webhook.created_by,
            created_at=webhook.created_at,
        )


class WebhookCreated(WebhookOut):
    """A new webhook with its signing secret, which is never shown again."""

    secret: str = Field(description="HMAC-SHA256 key of the Baton-Signature header")


class WebhookIn(BaseModel):
    """A new webhook: an http(s) URL and the events it wants."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL_CHARS)
    events: list[str] = Field(
        min_length=1,
        max_length=20,
        description="Any of: " + ", ".join(e.value for e in WebhookEvent),
    )


class DeliveryOut(BaseModel):
    """One entry of the delivery log."""

    delivery_id: str = Field(description="Sent as Baton-Delivery-Id: the receiver's dedupe key")
    event: str
    run_id: str
    status: str = Field(description="pending | sending | delivered | failed")
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    created_at: datetime

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        """From the service's delivery."""
        return cls(
            delivery_id=d.delivery_id,
            event=d.event,
            run_id=d.run_id,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
        )


class Deleted(BaseModel):
    """A deletion receipt."""

    webhook_id: str
    deleted: bool = True


@router.post(
    "/webhooks",
    response_model=WebhookCreated,
    status_code=201,
    responses={200: {"model": WebhookCreated, "description": "A replayed Idempotency-Key"}},
)
def add(
    body: WebhookIn,
    who: ManagerDep,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> WebhookCreated:
    """Subscribe a URL to run events of the whole tenant. The answer holds the signing secret,
    shown only here (and to a replay of the same Idempotency-Key)."""
    with rt.engine.begin() as conn:
        made = create_webhook(
            conn, who.tenant_id, who.user_id, body.url, body.events, idempotency_key
        )
    if not made.created:
        response.status_code = 200
    return WebhookCreated(**WebhookOut.of(made.webhook).model_dump(), secret=made.secret)


@router.get("/webhooks", response_model=list[WebhookOut])
def list_all(who: ManagerDep, rt: RuntimeDep) -> list[WebhookOut]:
    """The tenant's webhooks, oldest first."""
    with rt.engine.connect() as conn:
        return [WebhookOut.of(w) for w in list_webhooks(conn, who.tenant_id)]


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_one(webhook_id: str, who: ManagerDep, rt: RuntimeDep) -> WebhookOut:
    """One webhook, with why it was disabled if it was."""
    with rt.engine.connect() as conn:
        return WebhookOut.of(get_webhook(conn, who.tenant_id, webhook_id))


@router.delete("/webhooks/{webhook_id}", response_model=Deleted)
def remove(webhook_id: str, who: ManagerDep, rt: RuntimeDep) -> Deleted:
    """Delete a webhook; deliveries still queued for it are dropped."""
    with rt.engine.begin() as conn:
        gone = delete_webhook(conn, who.tenant_id, webhook_id)
    return Deleted(webhook_id=gone.webhook_id)


@router.post("/webhooks/{webhook_id}/enable", response_model=WebhookOut)
def enable(webhook_id: str, who: ManagerDep, rt: RuntimeDep) -> WebhookOut:
    """Turn a disabled webhook back on; what was still queued for it is sent."""
    with rt.engine.begin() as conn:
        return WebhookOut.of(enable_webhook(conn, who.tenant_id, webhook_id))


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(
    webhook_id: str,
    who: ManagerDep,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    """The webhook's delivery log, newest first."""
    with rt.engine.connect() as conn:
        return [DeliveryOut.of(d) for d in list_deliveries(conn, who.tenant_id, webhook_id, limit)]
