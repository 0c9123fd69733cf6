"""The browser side of calls: the call page at /call and WebRTC signalling at /api/offer.

``router`` is mounted by the voice plugin; the per-process ``BrowserCalls`` it answers with lives
on ``app.state.browser_calls`` (see :func:`install_browser`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pipecat.transports.smallwebrtc.request_handler import IceCandidate
from pydantic import BaseModel, Field, model_validator

from core.api.deps import IdentityDep
from core.api.schemas import ErrorOut
from voice.config import get_voice_settings
from voice.transports.webrtc import (
    HANG_UP_GRACE_SECONDS,
    MAX_CANDIDATES_PER_PATCH,
    MAX_SDP_CHARS,
    BrowserCalls,
    CallLimits,
    StartCall,
)

router = APIRouter(tags=["calls"])

_ASSETS = {"call.js": "text/javascript", "call.css": "text/css"}


class OfferIn(BaseModel):
    """An SDP offer from the call page: a new call, or a renegotiation of ``pc_id``."""

    sdp: str = Field(max_length=MAX_SDP_CHARS)
    type: str = Field(max_length=16)
    pc_id: str | None = Field(default=None, max_length=200)
    restart_pc: bool = False


class AnswerOut(BaseModel):
    """The server's SDP answer; ``pc_id`` names the peer connection for later PATCHes."""

    sdp: str
    type: str
    pc_id: str


class CandidateIn(BaseModel):
    """One trickled ICE candidate, as ``RTCIceCandidate`` gives it (an empty one ends them)."""

    candidate: str = Field(max_length=1000)
    sdp_mid: str | None = Field(default=None, max_length=64)
    sdp_mline_index: int | None = Field(default=None, ge=0, le=64)

    @model_validator(mode="after")
    def _needs_media_line(self) -> CandidateIn:
        if self.sdp_mid is None and self.sdp_mline_index is None:
            raise ValueError("a candidate needs sdp_mid or sdp_mline_index")
        return self


class CandidatesIn(BaseModel):
    """ICE candidates for the caller's peer connection ``pc_id``."""

    pc_id: str = Field(max_length=200)
    candidates: list[CandidateIn] = Field(max_length=MAX_CANDIDATES_PER_PATCH)


def install_browser(
    app: FastAPI,
    start_call: StartCall,
    ice_servers: list[str],
    limits: CallLimits | None = None,
    hang_up_grace_s: float = HANG_UP_GRACE_SECONDS,
) -> BrowserCalls:
    """Serve browser calls on ``app``: mount the router, keep the calls, hang up at shutdown.

    Without ``limits``, the process's voice settings give them.
    """
    if limits is None:
        limits = CallLimits.from_settings(get_voice_settings())
    calls = BrowserCalls(
        start_call, ice_servers=ice_servers, limits=limits, hang_up_grace_s=hang_up_grace_s
    )
    app.state.browser_calls = calls
    app.state.browser_ice_servers = ice_servers
    app.include_router(router)

    async def hang_up_all(_app: FastAPI) -> None:
        await calls.close()

    app.state.shutdown_hooks.append(hang_up_all)
    return calls


def _calls(request: Request) -> BrowserCalls:
    calls: BrowserCalls | None = getattr(request.app.state, "browser_calls", None)
    if calls is None:
        raise HTTPException(status_code=503, detail="browser calls are not enabled here")
    return calls


Calls = Annotated[BrowserCalls, Depends(_calls)]


@cache
def _asset(name: str) -> str:
    return files("voice.web").joinpath(name).read_text(encoding="utf-8")


@router.get("/call", response_class=HTMLResponse, summary="The call page")
def call_page(request: Request) -> HTMLResponse:
    """A page with a call button, a level meter, the live transcript and the pending question."""
    ice = json.dumps(getattr(request.app.state, "browser_ice_servers", []))
    # The ICE list goes into an HTML attribute: escape it as attribute text.
    attribute = ice.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    html = _asset("call.html").replace("__ICE_SERVERS__", attribute)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/call/assets/{name}", summary="Script and style of the call page")
def call_asset(name: str) -> Response:
    """call.js and call.css, from inside the voice package."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no asset named {name!r}")
    return Response(_asset(name), media_type=media_type)


@router.post(
    "/api/offer",
    response_model=AnswerOut,
    summary="Start or renegotiate a call",
    responses={429: {"model": ErrorOut, "description": "Too many browser calls in progress"}},
)
async def post_offer(body: OfferIn, caller: IdentityDep, calls: Calls) -> AnswerOut:
    """Answer the browser's SDP offer; the call runs as the signed-in user.

    An offer that cannot yield a working call is a 400 with the reason, checked before any
    call starts; another user's ``pc_id`` is a 404; a new call beyond the caller's or the
    server's limit of concurrent browser calls is a 429 with which limit was reached.
    """
    answer = await calls.offer(caller, body.sdp, body.type, body.pc_id, body.restart_pc)
    return AnswerOut(**answer)


@router.patch("/api/offer", status_code=204, summary="Add trickled ICE candidates")
async def patch_offer(body: CandidatesIn, caller: IdentityDep, calls: Calls) -> Response:
    """Add the browser's ICE candidates to its own peer connection."""
    candidates = [
        IceCandidate(
            candidate=c.candidate,
            sdp_mid=c.sdp_mid or "",
            sdp_mline_index=c.sdp_mline_index if c.sdp_mline_index is not None else -1,
        )
        for c in body.candidates
    ]
    await calls.add_candidates(caller, body.pc_id, candidates)
    return Response(status_code=204)
