"""/callbacks: a user's consent to be called back, the number and their quiet hours."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from core.api.deps import IdentityDep, RuntimeDep
from core.auth.keys import Identity
from core.contacts.preferences import user_timezone
from core.errors import Conflict
from voice.callbacks.dialer import missing_settings
from voice.callbacks.prefs import Prefs, get_prefs, set_prefs
from voice.runtime import voice_settings_of

router = APIRouter(prefix="/callbacks", tags=["callbacks"])


class CallbackPrefsIn(BaseModel):
    """PUT /callbacks: opt in (or out) of being called back."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool
    number: str = Field(max_length=32, description="A number linked to you, like +15551234567")
    quiet_start: str = Field(default="21:00", max_length=5, description="No calls from (HH:MM)")
    quiet_end: str = Field(default="08:00", max_length=5, description="No calls until (HH:MM)")


class CallbackPrefsOut(BaseModel):
    """Your call-back preferences, the time zone your quiet hours are read in (yours, from
    ``/me/preferences``), and whether this server can place call-backs at all."""

    enabled: bool
    number: str
    timezone: str
    quiet_start: str
    quiet_end: str
    server_ready: bool


def _out(prefs: Prefs, who: Identity, rt: Any, request: Request) -> CallbackPrefsOut:
    with rt.engine.connect() as conn:
        zone = user_timezone(conn, who.tenant_id, who.user_id, rt.settings.calendar_timezone)
    return CallbackPrefsOut(
        enabled=prefs.enabled,
        number=prefs.number,
        timezone=zone.key,
        quiet_start=prefs.quiet_start,
        quiet_end=prefs.quiet_end,
        server_ready=not missing_settings(rt.settings, voice_settings_of(request.app)),
    )


@router.get("", response_model=CallbackPrefsOut)
def read_callback_prefs(request: Request, who: IdentityDep, rt: RuntimeDep) -> Any:
    """Your call-back preferences (404 until you set them)."""
    return _out(get_prefs(rt.engine, who.tenant_id, who.user_id), who, rt, request)


@router.put("", response_model=CallbackPrefsOut)
def write_callback_prefs(
    body: CallbackPrefsIn, request: Request, who: IdentityDep, rt: RuntimeDep
) -> Any:
    """Opt in or out; the number must be one linked to you (``baton phones link``)."""
    missing = missing_settings(rt.settings, voice_settings_of(request.app))
    if body.enabled and missing:
        raise Conflict(f"this server cannot place call-backs yet: set {', '.join(missing)}")
    wanted = Prefs(
        enabled=body.enabled,
        number=body.number,
        quiet_start=body.quiet_start,
        quiet_end=body.quiet_end,
    )
    return _out(set_prefs(rt.engine, who.tenant_id, who.user_id, wanted), who, rt, request)
