"""Every BATON_* setting of the handoff package, read in one place.

Each field maps to an environment variable named ``BATON_<FIELD>``, like the core's settings in
:mod:`core.config`; the README's configuration table lists them under "Handoff".
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.config import ProcessSettings


class HandoffSettings(BaseSettings):
    """Deep links, web-view sessions and push notifications (FCM, Web Push)."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    handoff_secret: str | None = Field(
        default=None, description="HMAC key for deep links/sessions; default <data_dir>/handoff.key"
    )
    link_ttl_seconds: int = Field(default=86_400, description="Lifetime of a pushed deep link")
    session_ttl_seconds: int = Field(default=43_200, description="Lifetime of a web-view sign-in")
    fcm_service_account_file: Path | None = Field(
        default=None, description="Firebase service-account JSON; unset disables FCM"
    )
    vapid_private_key_file: Path | None = Field(
        default=None, description="VAPID key PEM; default <data_dir>/vapid_private.pem"
    )
    vapid_subject: str = Field(default="mailto:admin@localhost", description="VAPID 'sub' claim")
    webpush_allow_http: bool = Field(
        default=False, description="Accept http:// push endpoints (tests, private push services)"
    )
    push_delivery: bool = Field(default=True, description="Deliver pushes in serve/worker")
    push_poll_seconds: float = Field(default=1.0, description="Idle push-outbox poll interval")
    push_max_attempts: int = Field(default=8, description="Sends of one push before giving up")
    push_lease_seconds: float = Field(
        default=60.0, description="A push being sent is retried after this if its sender died"
    )
    push_retention_seconds: int = Field(
        default=604_800,
        ge=0,
        description="Delivered pushes (and those dropped with their device) are deleted after this",
    )
    push_failed_retention_seconds: int = Field(
        default=2_592_000,
        ge=0,
        description="Pushes that failed are kept this long for inspection, then deleted",
    )


_PROCESS = ProcessSettings(HandoffSettings)


def get_handoff_settings() -> HandoffSettings:
    """The handoff settings of this process: those installed with :func:`set_handoff_settings`,
    else the environment's, read once."""
    return _PROCESS.get()


def set_handoff_settings(settings: HandoffSettings | None) -> None:
    """Install the handoff settings of this process (tests build their own); None goes back to
    the environment's."""
    _PROCESS.install(settings)
