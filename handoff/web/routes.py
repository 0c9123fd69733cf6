"""The web view's pages, its sign-in (deep link or API key) and its run actions.

Pages are one static app shell; everything it shows comes from JSON under /app/api and from
the run API's server-sent events (GET /runs/{id}/events), which accept the session cookie
through the identity resolver this surface registers. Actions taken here are recorded with
channel ``web``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from core.api.deps import IdentityDep, RuntimeDep
from core.artifacts.service import ArtifactCorrupted, list_artifacts, read_artifact_data
from core.auth.keys import KEY, verify_key
from core.auth.scopes import Scope, require_scope
from core.runs.service import RunStore
from core.runs.states import TERMINAL, RunStatus
from core.tracing.service import run_timeline
from handoff.api.artifacts import public_artifact
from handoff.deps import HandoffSettingsDep
from handoff.links import WEB_PREFIX
from handoff.push.vapid import application_server_key, load_vapid_key, vapid_key_path
from handoff.signing import LINK, BadToken
from handoff.web.render import render_artifact
from handoff.web.session import (
    clear_session_cookie,
    issue_session,
    run_limit,
    session_claims,
    set_session_cookie,
    signer,
)
from handoff.web.timeline import timeline, trace_view

STATIC = Path(__file__).parent / "static"
MAX_SESSION_RUNS = 20
CHANNEL = "web"
S = RunStatus
TERMINAL_VALUES = {s.value for s in TERMINAL}
# The shell loads only its own script and styles; artifacts are rendered as inert HTML.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)

pages = APIRouter(prefix=WEB_PREFIX, include_in_schema=False)
api = APIRouter(prefix=f"{WEB_PREFIX}/api", tags=["web view"])


def _shell() -> FileResponse:
    return FileResponse(
        STATIC / "app.html",
        media_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


@pages.get("")
@pages.get("/")
def home() -> FileResponse:
    """The run list (or the sign-in form)."""
    return _shell()


@pages.get("/runs/{run_id}")
def run_page(run_id: str) -> FileResponse:
    """One run: status, timeline, artifacts, approvals and the ways to continue it."""
    return _shell()


@pages.get("/contacts")
def contacts_page() -> FileResponse:
    """The user's address book (read from the core /contacts API)."""
    return _shell()


@pages.get("/sw.js")
def service_worker() -> FileResponse:
    """The service worker (shows pushed notifications, opens their deep link)."""
    return FileResponse(
        STATIC / "sw.js",
        media_type="application/javascript",
        headers={"Service-Worker-Allowed": f"{WEB_PREFIX}/", "Cache-Control": "no-cache"},
    )


def _refused(reason: str) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>Link refused</title><link rel="stylesheet" href="{WEB_PREFIX}/static/app.css">'
        '</head><body><main class="card refused" id="refused"><h1>This link cannot be used</h1>'
        f"<p>{html.escape(reason)}</p>"
        f'<p><a href="{WEB_PREFIX}/">Sign in with an API key</a></p></main></body></html>'
    )
    return HTMLResponse(body, status_code=403, headers={"Content-Security-Policy": CSP})


@pages.get("/link")
def open_link(
    request: Request, rt: RuntimeDep, handoff_settings: HandoffSettingsDep, t: str = ""
) -> Response:
    """Sign in from a pushed deep link and open the run it announces."""
    try:
        claims = signer(rt.settings, handoff_settings).verify(t, LINK)
    except BadToken as exc:
        return _refused(str(exc))
    if not claims.runs:
        return _refused("the link does not name a run")
    run_id = claims.runs[0]
    runs: tuple[str, ...] | None = claims.runs
    previous = session_claims(request)
    same_user = previous is not None and (previous.tenant_id, previous.user_id) == (
        claims.tenant_id,
        claims.user_id,
    )
    if previous is not None and same_user:
        # Keep what this browser could already see (a full sign-in stays full); the cookie
        # keeps the latest runs only, so it cannot grow without bound.
        if previous.runs is None:
            runs = None
        else:
            runs = tuple(dict.fromkeys(previous.runs + claims.runs))[-MAX_SESSION_RUNS:]
    token = issue_session(
        rt.settings,
        handoff_settings,
        claims.tenant_id,
        claims.user_id,
        runs,
        key_id=previous.extra.get("key") if previous is not None and same_user else None,
        csrf=previous.extra.get("csrf") if previous is not None and same_user else None,
    )
    focus = claims.extra.get("focus")
    target = f"{WEB_PREFIX}/runs/{run_id}" + (f"#{focus}" if focus else "")
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, rt.settings, handoff_settings, token)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# ----------------------------------------------------------------------------- session


class SignIn(BaseModel):
    """POST /app/api/session."""

    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(max_length=200)


@api.post("/session")
def sign_in(
    body: SignIn, rt: RuntimeDep, handoff_settings: HandoffSettingsDep, response: Response
) -> dict[str, Any]:
    """Exchange an API key for a web-view session cookie (the key itself is not stored)."""
    ident = verify_key(rt.engine, body.api_key.strip())
    if ident is None:
        raise HTTPException(401, "that API key is not valid")
    match = KEY.match(body.api_key.strip())
    token = issue_session(
        rt.settings,
        handoff_settings,
        ident.tenant_id,
        ident.user_id,
        None,
        key_id=match.group(1) if match else None,
    )
    set_session_cookie(response, rt.settings, handoff_settings, token)
    return {"tenant_id": ident.tenant_id, "user_id": ident.user_id}


@api.delete("/session", status_code=204)
def sign_out() -> Response:
    """Forget this browser's session."""
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@api.get("/me")
def me(request: Request, rt: RuntimeDep, handoff_settings: HandoffSettingsDep) -> dict[str, Any]:
    """Who is signed in, what they may open, and what the page needs (CSRF value, VAPID key)."""
    claims = session_claims(request)
    if claims is None:
        raise HTTPException(401, "not signed in")
    try:
        key_path = vapid_key_path(rt.settings, handoff_settings)
        vapid = application_server_key(load_vapid_key(key_path))
    except FileNotFoundError:
        vapid = None
    return {
        "tenant_id": claims.tenant_id,
        "user_id": claims.user_id,
        "runs": list(claims.runs) if claims.runs is not None else None,
        "expires_at": claims.expires_at,
        "csrf": claims.extra.get("csrf"),
        "vapid_public_key": vapid,
    }


# ----------------------------------------------------------------------------- reads


def _store(rt: Any) -> RunStore:
    return RunStore(rt.engine, rt.settings)


@api.get("/runs")
def runs(request: Request, who: IdentityDep, rt: RuntimeDep) -> list[dict[str, Any]]:
    """The user's runs, newest first (a deep-link session sees the runs it was sent)."""
    limit = run_limit(request)
    rows = _store(rt).list_runs(who.tenant_id, who.user_id, limit=100)
    if limit is not None:
        rows = [r for r in rows if r["run_id"] in limit]
    return [_run_summary(r) for r in rows]


def _run_summary(run: dict[str, Any]) -> dict[str, Any]:
    return {
        k: run.get(k)
        for k in (
            "run_id",
            "status",
            "goal",
            "channel",
            "result",
            "failure_reason",
            "parent_run_id",
            "current_step",
            "last_event_seq",
            "created_at",
            "updated_at",
        )
    }


def actions_for(run: dict[str, Any], has_approval: bool) -> dict[str, Any]:
    """What the person can do with the run in its current state."""
    status = run["status"]
    finished = status in (S.COMPLETED, S.FAILED)
    return {
        "approve": status == S.WAITING_FOR_HUMAN and has_approval,
        "cancel": status not in TERMINAL_VALUES,
        "continue": not finished,
        "resume": status == S.CANCELLED,
        "follow_up": finished,
        "call_url": f"/call?run_id={run['run_id']}",
    }


@api.get("/runs/{run_id}")
def run_view(run_id: str, request: Request, who: IdentityDep, rt: RuntimeDep) -> dict[str, Any]:
    """Everything the run page shows, in one answer."""
    store = _store(rt)
    run = store.get_run(who.tenant_id, who.user_id, run_id)
    approval = store.pending_approval(who.tenant_id, who.user_id, run_id)
    events = store.events(who.tenant_id, who.user_id, run_id, limit=5000)
    artifacts = []
    for row in list_artifacts(
        rt.engine, tenant_id=who.tenant_id, user_id=who.user_id, run_id=run_id
    ):
        item = public_artifact(row)
        try:
            _, data = read_artifact_data(
                rt.engine,
                tenant_id=who.tenant_id,
                user_id=who.user_id,
                artifact_id=row["artifact_id"],
                settings=rt.settings,
            )
            item.update(render_artifact(row, data, item["content_url"]))
        except (FileNotFoundError, ArtifactCorrupted) as exc:
            item.update(html=None, error=f"the stored content is unavailable: {exc}")
        artifacts.append(item)
    limit = run_limit(request)
    children = [
        _run_summary(r)
        for r in store.list_runs(who.tenant_id, who.user_id, limit=200)
        if r.get("parent_run_id") == run_id and (limit is None or r["run_id"] in limit)
    ]
    return {
        "run": _run_summary(run),
        "pending_approval": (
            {
                k: approval[k]
                for k in ("approval_id", "tool_name", "question", "risk_level", "arguments_json")
            }
            if approval
            else None
        ),
        "artifacts": artifacts,
        "timeline": timeline(events),
        "trace": trace_view(run_timeline(rt.engine, who.tenant_id, who.user_id, run_id)),
        "follow_ups": children,
        "actions": actions_for(run, approval is not None),
    }


# ----------------------------------------------------------------------------- actions


class Decision(BaseModel):
    """Approve or deny the pending approval."""

    model_config = ConfigDict(extra="forbid")
    approval_id: str = Field(max_length=40)
    decision: Literal["approve", "deny"]


class TextIn(BaseModel):
    """A text message from the person."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = None


@api.post("/runs/{run_id}/approve")
def approve(run_id: str, body: Decision, who: IdentityDep, rt: RuntimeDep) -> dict[str, Any]:
    """Decide the run's pending approval from the web view."""
    require_scope(who, Scope.APPROVE)
    run = _store(rt).decide_approval(
        who.tenant_id,
        who.user_id,
        run_id,
        body.approval_id,
        body.decision == "approve",
        channel=CHANNEL,
        evidence="button in the web view",
    )
    return _run_summary(run)


@api.post("/runs/{run_id}/cancel")
def cancel(run_id: str, who: IdentityDep, rt: RuntimeDep) -> dict[str, Any]:
    """Cancel the run from the web view."""
    run = _store(rt).cancel(
        who.tenant_id, who.user_id, run_id, "cancelled in the web view", channel=CHANNEL
    )
    return _run_summary(run)


@api.post("/runs/{run_id}/continue")
def continue_run(
    run_id: str, who: IdentityDep, rt: RuntimeDep, body: TextIn | None = None
) -> dict[str, Any]:
    """Continue the run: with text, a user message; without, resume a cancelled run.

    A run waiting for a human gets the text as the person's answer (a pending approval is
    superseded by it); a run cancelled by a hang-up resumes with its whole context.
    """
    text = ((body or TextIn()).text or "").strip()
    store = _store(rt)
    if text:
        run = store.post_message(who.tenant_id, who.user_id, run_id, text, channel=CHANNEL)
    else:
        run = store.resume(who.tenant_id, who.user_id, run_id, channel=CHANNEL)
    return _run_summary(run)


@api.post("/runs/{run_id}/follow-up", status_code=201)
def follow_up(
    run_id: str,
    body: TextIn,
    request: Request,
    who: IdentityDep,
    rt: RuntimeDep,
    handoff_settings: HandoffSettingsDep,
) -> JSONResponse:
    """Start a new run linked to this finished one; a run-limited session may open it too."""
    run = _store(rt).follow_up(
        who.tenant_id, who.user_id, run_id, (body.text or "").strip(), channel=CHANNEL
    )
    response = JSONResponse(jsonable_encoder(_run_summary(run)), status_code=201)
    claims = session_claims(request)
    if claims is not None and claims.runs is not None and run_limit(request) is not None:
        token = issue_session(
            rt.settings,
            handoff_settings,
            claims.tenant_id,
            claims.user_id,
            (*claims.runs, run["run_id"]),
            csrf=claims.extra.get("csrf"),
        )
        set_session_cookie(response, rt.settings, handoff_settings, token)
    return response
