"""A user's devices: FCM registration tokens and Web Push subscriptions."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from core.errors import Conflict, InvalidInput, NotFound
from core.ids import new_id, utcnow
from handoff.config import HandoffSettings
from handoff.tables import Device, PushOutbox

DEVICES = Device.__table__  # type: ignore[attr-defined]
OUTBOX = PushOutbox.__table__  # type: ignore[attr-defined]
MAX_DEVICES_PER_USER = 50


class SubscriptionKeys(BaseModel):
    """The browser's keys of a push subscription (base64url, as PushSubscription.toJSON)."""

    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class WebPushSubscription(BaseModel):
    """A Web Push subscription as the browser's PushSubscription.toJSON() gives it."""

    endpoint: str = Field(max_length=2000)
    keys: SubscriptionKeys
    expirationTime: float | None = None  # the browser's spelling


class DeviceIn(BaseModel):
    """POST /devices: exactly one of ``token`` (FCM) or ``subscription`` (Web Push)."""

    kind: Literal["fcm", "webpush"] | None = None
    token: str | None = Field(default=None, max_length=4096)
    subscription: WebPushSubscription | None = None
    label: str | None = Field(default=None, max_length=100)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_subscription(sub: WebPushSubscription, allow_http: bool) -> None:
    parts = urlsplit(sub.endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("subscription endpoint must be an https URL")
    if parts.scheme == "http" and not allow_http:
        raise InvalidInput(
            "subscription endpoint must be https (BATON_WEBPUSH_ALLOW_HTTP allows http)"
        )
    try:
        p256dh, auth = _unb64(sub.keys.p256dh), _unb64(sub.keys.auth)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("subscription keys must be base64url") from exc
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise InvalidInput("keys.p256dh must be an uncompressed P-256 public key (65 bytes)")
    if len(auth) != 16:
        raise InvalidInput("keys.auth must be 16 bytes")


def _address(body: DeviceIn, settings: HandoffSettings) -> tuple[str, str, dict[str, Any] | None]:
    """(kind, address, keys) of a registration, or InvalidInput saying what is wrong."""
    if (body.token is None) == (body.subscription is None):
        raise InvalidInput("send either 'token' (FCM) or 'subscription' (Web Push)")
    if body.token is not None:
        if body.kind not in (None, "fcm"):
            raise InvalidInput("a 'token' registers an FCM device (kind 'fcm')")
        token = body.token.strip()
        if not token or any(c.isspace() for c in token):
            raise InvalidInput("the FCM token must be a non-empty string without spaces")
        return "fcm", token, None
    assert body.subscription is not None
    if body.kind not in (None, "webpush"):
        raise InvalidInput("a 'subscription' registers a Web Push device (kind 'webpush')")
    _check_subscription(body.subscription, settings.webpush_allow_http)
    return "webpush", body.subscription.endpoint, body.subscription.keys.model_dump()


def _hash(address: str) -> str:
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


def public_device(row: dict[str, Any]) -> dict[str, Any]:
    """A device as the API shows it (the address is a credential of sorts: only its tail)."""
    return {
        "device_id": row["device_id"],
        "kind": row["kind"],
        "label": row["label"],
        "address_hint": "…" + row["address"][-12:],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def register_device(
    engine: Engine, settings: HandoffSettings, tenant_id: str, user_id: str, body: DeviceIn
) -> tuple[dict[str, Any], bool]:
    """Register (or refresh) a device; returns (device, created). Same address, same device."""
    kind, address, keys = _address(body, settings)
    digest = _hash(address)
    now = utcnow()
    with engine.begin() as conn:
        existing = _find(conn, tenant_id, user_id, digest)
        if existing is not None:
            conn.execute(
                update(DEVICES)
                .where(DEVICES.c.device_id == existing["device_id"])
                .values(keys_json=keys, label=body.label or existing["label"], updated_at=now)
            )
            return {**existing, "keys_json": keys, "updated_at": now}, False
        count = conn.execute(
            select(func.count())
            .select_from(DEVICES)
            .where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.user_id == user_id)
        ).scalar_one()
        if count >= MAX_DEVICES_PER_USER:
            raise Conflict(f"a user can register at most {MAX_DEVICES_PER_USER} devices")
        row = {
            "device_id": new_id("dev"),
            "tenant_id": tenant_id,
            "user_id": user_id,
            "kind": kind,
            "address": address,
            "address_hash": digest,
            "keys_json": keys,
            "label": body.label,
            "created_at": now,
            "updated_at": now,
        }
        conn.execute(insert(DEVICES).values(**row))
        return row, True


def _find(conn: Connection, tenant_id: str, user_id: str, digest: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(DEVICES).where(
                DEVICES.c.tenant_id == tenant_id,
                DEVICES.c.user_id == user_id,
                DEVICES.c.address_hash == digest,
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def list_devices(engine: Engine, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    """The user's devices, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(DEVICES)
            .where(DEVICES.c.tenant_id == tenant_id, DEVICES.c.user_id == user_id)
            .order_by(DEVICES.c.created_at)
        ).mappings()
        return [dict(r) for r in rows]


def unregister_device(
    engine: Engine,
    tenant_id: str,
    user_id: str,
    *,
    device_id: str | None = None,
    address: str | None = None,
) -> None:
    """Remove one of the user's devices (by id, or by its token / endpoint)."""
    with engine.begin() as conn:
        stmt = select(DEVICES.c.device_id).where(
            DEVICES.c.tenant_id == tenant_id, DEVICES.c.user_id == user_id
        )
        if device_id is not None:
            stmt = stmt.where(DEVICES.c.device_id == device_id)
        elif address:
            stmt = stmt.where(DEVICES.c.address_hash == _hash(address))
        else:
            raise InvalidInput("name the device: its id, 'token' or 'subscription.endpoint'")
        found = conn.execute(stmt).scalar_one_or_none()
        if found is None:
            raise NotFound("no such device")
        remove_device(conn, tenant_id, user_id, found, reason="unregistered by the user")


def remove_device(
    conn: Connection, tenant_id: str, user_id: str, device_id: str, reason: str
) -> None:
    """Delete a device and drop the notifications still queued for it (same transaction)."""
    conn.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.tenant_id == tenant_id,
            OUTBOX.c.user_id == user_id,
            OUTBOX.c.device_id == device_id,
            OUTBOX.c.status.in_(["pending", "sending"]),
        )
        .values(status="dropped", last_error=reason, lease_token=None)
    )
    conn.execute(
        delete(DEVICES).where(
            DEVICES.c.tenant_id == tenant_id,
            DEVICES.c.user_id == user_id,
            DEVICES.c.device_id == device_id,
        )
    )
