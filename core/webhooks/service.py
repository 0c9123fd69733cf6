"""Webhook subscriptions of a tenant: create, list, read, delete, re-enable, and their log.

A subscription belongs to the tenant (it hears the runs of all the tenant's users), so every
function takes the caller's tenant first and scopes its query to it: another tenant's webhook
is not found, never forbidden. The signing secret leaves this module only on creation.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput, NotFound
from core.ids import new_id, utcnow
from core.webhooks.events import WebhookEvent, parse_events
from core.webhooks.signing import new_secret
from core.webhooks.tables import DELIVERIES, WEBHOOKS

MAX_URL_CHARS = 2000
MAX_WEBHOOKS_PER_TENANT = 50
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
ACTIVE = "active"
DISABLED = "disabled"


@dataclass(frozen=True)
class Webhook:
    """A subscription as its tenant sees it (without the secret)."""

    webhook_id: str
    url: str
    events: tuple[WebhookEvent, ...]
    status: str
    consecutive_failures: int
    disabled_reason: str | None
    disabled_at: datetime | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class CreatedWebhook:
    """A new subscription with its signing secret; ``created`` is False for a replay."""

    webhook: Webhook
    secret: str
    created: bool


@dataclass(frozen=True)
class Delivery:
    """One event sent (or being sent) to a subscription."""

    delivery_id: str
    event: str
    run_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


def _webhook(row: Any) -> Webhook:
    return Webhook(
        webhook_id=row["webhook_id"],
        url=row["url"],
        events=tuple(WebhookEvent(e) for e in row["events"]),
        status=row["status"],
        consecutive_failures=int(row["consecutive_failures"]),
        disabled_reason=row["disabled_reason"],
        disabled_at=row["disabled_at"],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


def _delivery(row: Any) -> Delivery:
    pending = row["status"] in ("pending", "sending")
    return Delivery(
        delivery_id=row["delivery_id"],
        event=row["event"],
        run_id=row["run_id"],
        status=row["status"],
        attempts=int(row["attempts"]),
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"] if pending else None,
        delivered_at=row["delivered_at"],
        created_at=row["created_at"],
    )


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return len(host) <= 253 and _HOSTNAME.match(host) is not None


def clean_url(url: str) -> str:
    """The URL to post to, if it is an absolute http(s) URL; InvalidInput says why not."""
    text = url.strip()
    if len(text) > MAX_URL_CHARS:
        raise InvalidInput(f"a webhook URL is at most {MAX_URL_CHARS} characters")
    try:
        parsed = httpx.URL(text)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise InvalidInput(f"{url!r} is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput(f"a webhook URL must start with http:// or https:// (got {url!r})")
    if not host:
        raise InvalidInput(f"the webhook URL {url!r} has no host")
    if not _valid_host(host):
        raise InvalidInput(f"the webhook URL {url!r} does not name a valid host")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise InvalidInput(f"the webhook URL {url!r} has an invalid port")
    if parsed.userinfo:
        raise InvalidInput("a webhook URL must not carry a user name or password")
    return str(parsed)


def _clean_events(events: list[str]) -> list[WebhookEvent]:
    try:
        chosen = parse_events(events)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if not chosen:
        raise InvalidInput("choose at least one event type")
    return chosen


def _row(conn: Connection, tenant_id: str, webhook_id: str) -> Any:
    row = (
        conn.execute(
            select(WEBHOOKS).where(
                WEBHOOKS.c.tenant_id == tenant_id, WEBHOOKS.c.webhook_id == webhook_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no webhook '{webhook_id}'")
    return row


def _by_key(conn: Connection, tenant_id: str, key: str) -> Any:
    return (
        conn.execute(
            select(WEBHOOKS).where(
                WEBHOOKS.c.tenant_id == tenant_id, WEBHOOKS.c.idempotency_key == key
            )
        )
        .mappings()
        .first()
    )


def _replay(row: Any, url: str, events: list[WebhookEvent]) -> CreatedWebhook:
    if row["url"] != url or list(row["events"]) != [e.value for e in events]:
        raise Conflict("this Idempotency-Key already created a different webhook")
    return CreatedWebhook(_webhook(row), row["secret"], created=False)


def create_webhook(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    url: str,
    events: list[str],
    idempotency_key: str | None = None,
) -> CreatedWebhook:
    """Subscribe ``url`` to ``events`` for the whole tenant; the secret is returned here only.

    Replaying an Idempotency-Key returns the webhook it created (with its secret: the caller
    that holds the key is the one whose first answer was lost).
    """
    clean = clean_url(url)
    chosen = _clean_events(events)
    if idempotency_key is not None:
        existing = _by_key(conn, tenant_id, idempotency_key)
        if existing is not None:
            return _replay(existing, clean, chosen)
    count = conn.execute(
        select(func.count()).select_from(WEBHOOKS).where(WEBHOOKS.c.tenant_id == tenant_id)
    ).scalar_one()
    if count >= MAX_WEBHOOKS_PER_TENANT:
        raise Conflict(f"a tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first")
    now = utcnow()
    secret = new_secret()
    row: dict[str, Any] = {
        "webhook_id": new_id("wh"),
        "tenant_id": tenant_id,
        "created_by": user_id,
        "url": clean,
        "events": [e.value for e in chosen],
        "secret": secret,
        "status": ACTIVE,
        "consecutive_failures": 0,
        "disabled_reason": None,
        "disabled_at": None,
        "idempotency_key": idempotency_key,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with conn.begin_nested():
            conn.execute(insert(WEBHOOKS).values(**row))
    except IntegrityError:
        # A concurrent request with the same key won.
        existing = _by_key(conn, tenant_id, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return _replay(existing, clean, chosen)
    return CreatedWebhook(_webhook(row), secret, created=True)


def list_webhooks(conn: Connection, tenant_id: str) -> list[Webhook]:
    """The tenant's webhooks, oldest first."""
    rows = conn.execute(
        select(WEBHOOKS)
        .where(WEBHOOKS.c.tenant_id == tenant_id)
        .order_by(WEBHOOKS.c.created_at, WEBHOOKS.c.webhook_id)
    ).mappings()
    return [_webhook(r) for r in rows]


def get_webhook(conn: Connection, tenant_id: str, webhook_id: str) -> Webhook:
    """One of the tenant's webhooks; NotFound otherwise."""
    return _webhook(_row(conn, tenant_id, webhook_id))


def delete_webhook(conn: Connection, tenant_id: str, webhook_id: str) -> Webhook:
    """Delete a webhook and its delivery log; what is still queued is never sent."""
    gone = _webhook(_row(conn, tenant_id, webhook_id))
    conn.execute(
        delete(DELIVERIES).where(
            DELIVERIES.c.tenant_id == tenant_id, DELIVERIES.c.webhook_id == webhook_id
        )
    )
    conn.execute(
        delete(WEBHOOKS).where(
            WEBHOOKS.c.tenant_id == tenant_id, WEBHOOKS.c.webhook_id == webhook_id
        )
    )
    return gone


def enable_webhook(conn: Connection, tenant_id: str, webhook_id: str) -> Webhook:
    """Turn a disabled webhook back on; deliveries still queued for it resume."""
    _row(conn, tenant_id, webhook_id)
    conn.execute(
        update(WEBHOOKS)
        .where(WEBHOOKS.c.tenant_id == tenant_id, WEBHOOKS.c.webhook_id == webhook_id)
        .values(
            status=ACTIVE,
            consecutive_failures=0,
            disabled_reason=None,
            disabled_at=None,
            updated_at=utcnow(),
        )
    )
    return get_webhook(conn, tenant_id, webhook_id)


def list_deliveries(
    conn: Connection, tenant_id: str, webhook_id: str, limit: int = 100
) -> list[Delivery]:
    """The webhook's delivery log, newest first."""
    _row(conn, tenant_id, webhook_id)
    rows = conn.execute(
        select(DELIVERIES)
        .where(DELIVERIES.c.tenant_id == tenant_id, DELIVERIES.c.webhook_id == webhook_id)
        .order_by(DELIVERIES.c.created_at.desc(), DELIVERIES.c.delivery_id.desc())
        .limit(limit)
    ).mappings()
    return [_delivery(r) for r in rows]
