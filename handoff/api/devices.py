"""/devices: register and remove the places a user's notifications go."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from core.api.deps import IdentityDep, RuntimeDep
from core.errors import InvalidInput, NotFound
from handoff.deps import HandoffSettingsDep
from handoff.devices import (
    DeviceIn,
    list_devices,
    public_device,
    register_device,
    unregister_device,
)
from handoff.push.vapid import application_server_key, load_vapid_key, vapid_key_path

router = APIRouter(prefix="/devices", tags=["devices"])


class DeviceOut(BaseModel):
    """A registered device (only the tail of its token or endpoint is shown)."""

    device_id: str
    kind: str
    label: str | None
    address_hint: str
    created_at: Any
    updated_at: Any


class DeviceRemove(BaseModel):
    """DELETE /devices: name the device by its FCM token or its subscription endpoint."""

    model_config = ConfigDict(extra="ignore")
    token: str | None = Field(default=None, max_length=4096)
    endpoint: str | None = Field(default=None, max_length=2000)
    subscription: dict[str, Any] | None = None


@router.post("", status_code=201, response_model=DeviceOut)
def add_device(
    body: DeviceIn,
    who: IdentityDep,
    rt: RuntimeDep,
    handoff_settings: HandoffSettingsDep,
    response: Response,
) -> Any:
    """Register an FCM token or a Web Push subscription; the same one again is a no-op (200)."""
    device, created = register_device(rt.engine, handoff_settings, who.tenant_id, who.user_id, body)
    if not created:
        response.status_code = 200
    return public_device(device)


@router.get("", response_model=list[DeviceOut])
def get_devices(who: IdentityDep, rt: RuntimeDep) -> Any:
    """The caller's devices."""
    return [public_device(d) for d in list_devices(rt.engine, who.tenant_id, who.user_id)]


@router.delete("/{device_id}", status_code=204)
def remove_device_by_id(device_id: str, who: IdentityDep, rt: RuntimeDep) -> Response:
    """Remove one device; its queued notifications are dropped."""
    unregister_device(rt.engine, who.tenant_id, who.user_id, device_id=device_id)
    return Response(status_code=204)


@router.delete("", status_code=204)
def remove_device_by_address(body: DeviceRemove, who: IdentityDep, rt: RuntimeDep) -> Response:
    """Remove the device with this FCM token or Web Push endpoint."""
    endpoint = body.endpoint or (body.subscription or {}).get("endpoint")
    address = body.token or endpoint
    if not address or not isinstance(address, str):
        raise InvalidInput("send 'token' or 'endpoint' (or 'subscription') of the device")
    unregister_device(rt.engine, who.tenant_id, who.user_id, address=address)
    return Response(status_code=204)


@router.get("/webpush-key")
def webpush_key(rt: RuntimeDep, handoff_settings: HandoffSettingsDep) -> dict[str, str]:
    """The VAPID public key browsers subscribe with (applicationServerKey)."""
    try:
        key = load_vapid_key(vapid_key_path(rt.settings, handoff_settings))
    except FileNotFoundError as exc:
        raise NotFound("Web Push is not set up on this server (run `baton keys vapid`)") from exc
    return {"public_key": application_server_key(key)}
