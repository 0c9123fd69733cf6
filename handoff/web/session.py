"""Web-view sign-in: a signed session cookie, from a deep link or an API key.

The cookie never holds a credential that works elsewhere: it is an HMAC-signed claim (tenant,
user, runs it may open, expiry, a CSRF value). A session from a deep link is limited to the
run it was sent for; one from an API key covers all of the user's runs and ends when the key
is revoked. Requests that change something must echo the CSRF value in a header, which a page
on another site cannot read.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from fastapi import HTTPException, Request, Response
from sqlalchemy import Engine

from core.api.deps import API_KEY, authenticated_by
from core.auth.keys import Identity, key_active, user_scopes
from core.config import Settings
from core.runtime import get_runtime
from handoff.config import HandoffSettings, get_handoff_settings
from handoff.signing import SESSION, BadToken, Claims, Signer, load_secret

COOKIE = "baton_session"
CSRF_HEADER = "X-Baton-CSRF"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths a run-limited session may use without a run id in the path; their handlers check
# the run of what they touch themselves.
_RUNLESS_PATHS = ("/app/", "/devices", "/artifacts/")


@lru_cache(maxsize=8)
def _signer(secret: str | None, data_dir: Path) -> Signer:
    return Signer(load_secret(secret, data_dir))


def signer(settings: Settings, handoff_settings: HandoffSettings) -> Signer:
    """The process's signer for these settings (the secret is read once)."""
    return _signer(handoff_settings.handoff_secret, Path(settings.data_dir))


def issue_session(
    settings: Settings,
    handoff_settings: HandoffSettings,
    tenant_id: str,
    user_id: str,
    runs: list[str] | tuple[str, ...] | None,
    key_id: str | None = None,
    csrf: str | None = None,
) -> str:
    """A session token; ``runs`` None covers every run of the user.

    Pass the current ``csrf`` when re-issuing so that an open page keeps working.
    """
    extra: dict[str, str] = {"csrf": csrf or secrets.token_urlsafe(18)}
    if key_id:
        extra["key"] = key_id
    return signer(settings, handoff_settings).issue(
        SESSION, tenant_id, user_id, handoff_settings.session_ttl_seconds, runs=runs, extra=extra
    )


def set_session_cookie(
    response: Response, settings: Settings, handoff_settings: HandoffSettings, token: str
) -> None:
    """Attach the session cookie (HttpOnly, SameSite=Lax, Secure behind https)."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=handoff_settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=(settings.public_url or "").startswith("https://"),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    """Sign the browser out."""
    response.delete_cookie(COOKIE, path="/")


def session_claims(request: Request) -> Claims | None:
    """The valid session of this request, or None (cached on the request)."""
    if hasattr(request.state, "baton_session"):
        cached: Claims | None = request.state.baton_session
        return cached
    claims = None
    token = request.cookies.get(COOKIE)
    if token:
        rt = get_runtime()
        try:
            claims = signer(rt.settings, get_handoff_settings()).verify(token, SESSION)
        except BadToken:
            claims = None
        if claims is not None and not _still_valid(rt.engine, claims):
            claims = None
    request.state.baton_session = claims
    return claims


def _still_valid(engine: Engine, claims: Claims) -> bool:
    """A session from an API key dies with the key."""
    key_id = claims.extra.get("key")
    if not key_id:
        return True
    return key_active(engine, claims.tenant_id, claims.user_id, str(key_id))


def session_identity(request: Request) -> Identity | None:
    """Identity resolver for the core API: the web-view session, within its limits.

    A cookie that cannot do this request (a change without the CSRF header, a run outside a
    deep link's run) counts as no sign-in, so the caller is asked for an API key (401).
    """
    claims = session_claims(request)
    if claims is None:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent, str(claims.extra.get("csrf", ""))):
            return None
    if claims.runs is not None:
        run_id = request.path_params.get("run_id")
        allowed = (
            claims.allows_run(str(run_id))
            if run_id is not None
            else request.url.path.startswith(_RUNLESS_PATHS)
        )
        if not allowed:
            return None
    scopes = user_scopes(get_runtime().engine, claims.tenant_id, claims.user_id)
    return Identity(
        claims.tenant_id, claims.user_id, frozenset(scopes) if scopes is not None else None
    )


def run_limit(request: Request) -> tuple[str, ...] | None:
    """The runs this request may see; None when it may see every run of its user.

    Only an API key that authenticated this very request lifts a deep-link session's limit;
    any other Authorization header (a proxy's basic auth, a broken key) leaves it in force.
    """
    if authenticated_by(request) == API_KEY:
        return None
    claims = session_claims(request)
    return claims.runs if claims is not None else None


def ensure_run_allowed(request: Request, run_id: str | None) -> None:
    """404 when a run-limited web session asks about a run outside its limit."""
    limit = run_limit(request)
    if limit is not None and (run_id is None or run_id not in limit):
        raise HTTPException(404, "not found")
