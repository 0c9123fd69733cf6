"""Deep links into the companion web view."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from core.config import Settings
from handoff.config import HandoffSettings
from handoff.signing import LINK, Signer

WEB_PREFIX = "/app"


def base_url(settings: Settings) -> str:
    """Where phones reach this server: BATON_PUBLIC_URL, else the address it serves on."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


def deep_link(
    settings: Settings,
    handoff_settings: HandoffSettings,
    signer: Signer,
    owner: dict[str, Any],
    payload: dict[str, Any],
) -> str:
    """A signed, expiring link that opens the run (and the artifact) the payload announces.

    It grants read/decide access to that one run for BATON_LINK_TTL_SECONDS; no API key or
    other long-lived credential is ever put in a URL.
    """
    token = signer.issue(
        LINK,
        owner["tenant_id"],
        owner["user_id"],
        handoff_settings.link_ttl_seconds,
        runs=[payload["run_id"]],
        extra={"focus": payload.get("artifact_id") or payload.get("approval_id")},
    )
    return f"{base_url(settings)}{WEB_PREFIX}/link?t={quote(token)}"
