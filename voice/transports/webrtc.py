"""Browser calls over SmallWebRTC: offer checks, per-caller peer connections, call start-up.

The browser sends an SDP offer (POST /api/offer) and trickles its ICE candidates afterwards
(PATCH /api/offer). Each new peer connection belongs to the signed-in caller who offered it:
only that caller may renegotiate it or add candidates to it, so a leaked ``pc_id`` gives another
user nothing. The call itself (the pipecat pipeline) is started by a ``StartCall`` callback and
runs as a task of its own, so the offer is answered without waiting for models or the run core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.sdp import SessionDescription, candidate_from_sdp
from fastapi import HTTPException
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import IceServer, SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    ConnectionMode,
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
    SmallWebRTCRequestHandler,
)
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

from core.auth.keys import Identity
from core.errors import BatonError, NotFound

log = logging.getLogger(__name__)

# A browser's audio-only offer is 2-5 KB; anything far larger is not a call.
MAX_SDP_CHARS = 64_000
MAX_CANDIDATES_PER_PATCH = 64
PAGE_EVENT_LABEL = "baton"
_SDP_LINE = re.compile(r"^[a-z]=")
_AUDIO_MEDIA = re.compile(r"^m=audio \d+ \S*RTP/S?AVPF? [\d ]+$")


StartCall = Callable[[SmallWebRTCConnection, Identity], Awaitable[None]]
"""Runs one call of the signed-in user to its end (build the pipeline on the connection, run it)."""


class OfferRejected(BatonError):
    """The offer or an ICE candidate cannot start a call; the message says why."""

    status = 400
    code = "malformed_offer"


class UnknownPeer(NotFound):
    """No peer connection with this id belongs to the caller."""

    def __init__(self, pc_id: str) -> None:
        super().__init__(f"no call {pc_id[:80]!r} of yours is in progress")


def _owner(identity: Identity) -> tuple[str, str]:
    return (identity.tenant_id, identity.user_id)


def check_offer(sdp: str, sdp_type: str) -> None:
    """Reject an offer a browser could not have sent, with the reason.

    aiortc accepts almost any text (even "hello") and only fails much later, while connecting;
    the checks here make those failures immediate and explainable.
    """
    if sdp_type != "offer":
        raise OfferRejected(f"type must be 'offer', not {sdp_type!r}")
    if len(sdp) > MAX_SDP_CHARS:
        raise OfferRejected(f"SDP is {len(sdp)} characters, over the limit of {MAX_SDP_CHARS}")
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise OfferRejected("SDP must start with the line 'v=0'")
    bad = next((line for line in lines if not _SDP_LINE.match(line)), None)
    if bad is not None:
        raise OfferRejected(f"SDP line is not '<letter>=<value>': {bad[:60]!r}")
    if not any(_AUDIO_MEDIA.match(line) for line in lines):
        raise OfferRejected("SDP has no 'm=audio' section with an RTP profile: a call needs audio")
    for attribute in ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"):
        if not any(line.startswith(attribute) for line in lines):
            raise OfferRejected(f"SDP lacks '{attribute}' (no ICE credentials or DTLS fingerprint)")
    try:
        SessionDescription.parse(sdp)
    except (ValueError, IndexError, KeyError) as exc:
        raise OfferRejected(f"SDP does not parse: {exc}") from exc


def browser_transport(connection: SmallWebRTCConnection) -> SmallWebRTCTransport:
    """A SmallWebRTC transport for a call: audio both ways, 16 kHz mono into the pipeline.

    Whisper needs 16 kHz and does not resample, so the transport does it (from the browser's
    48 kHz Opus). The output rate is the pipeline's (``audio_out_sample_rate``).
    """
    return SmallWebRTCTransport(
        webrtc_connection=connection,
        params=TransportParams(
            audio_in_enabled=True,
            audio_in_sample_rate=16000,
            audio_in_channels=1,
            audio_out_enabled=True,
        ),
    )


def page_notifier(connection: SmallWebRTCConnection) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """A ``CallSession.notify`` sink: page events go to the call page over the data channel.

    The page tells them from pipecat's RTVI messages by their label, ``"baton"``.
    """

    async def notify(event: dict[str, Any]) -> None:
        connection.send_app_message({**event, "label": PAGE_EVENT_LABEL})

    return notify


class BrowserCalls:
    """The browser calls of one server process: signalling, ownership, running tasks."""

    def __init__(self, start_call: StartCall, ice_servers: list[str] | None = None) -> None:
        """Answer offers with ``start_call`` run once per new peer connection."""
        self._start_call = start_call
        self._handler = SmallWebRTCRequestHandler(
            ice_servers=[IceServer(urls=url) for url in ice_servers or []],
            connection_mode=ConnectionMode.MULTIPLE,
        )
        self._owners: dict[str, tuple[str, str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def active_calls(self) -> int:
        """Calls whose pipeline task is still running."""
        return len(self._tasks)

    async def offer(
        self,
        caller: Identity,
        sdp: str,
        sdp_type: str,
        pc_id: str | None = None,
        restart_pc: bool = False,
    ) -> dict[str, str]:
        """Answer an offer: a new call, or a renegotiation of the caller's own connection."""
        check_offer(sdp, sdp_type)
        if pc_id is not None and self._owners.get(pc_id) != _owner(caller):
            raise UnknownPeer(pc_id)
        request = SmallWebRTCRequest(sdp=sdp, type=sdp_type, pc_id=pc_id, restart_pc=restart_pc)

        async def on_connection(connection: SmallWebRTCConnection) -> None:
            task = asyncio.create_task(
                self._run_call(connection, caller), name=f"browser-call-{connection.pc_id}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        try:
            answer = await self._handler.handle_web_request(request, on_connection)
        except (ValueError, OperationError, InvalidAccessError, InvalidStateError) as exc:
            raise OfferRejected(f"the offer cannot be answered: {exc}") from exc
        if answer is None:  # pragma: no cover - the handler raises instead
            raise OfferRejected("the offer produced no answer")
        self._owners[answer["pc_id"]] = _owner(caller)
        return answer

    async def add_candidates(
        self, caller: Identity, pc_id: str, candidates: list[IceCandidate]
    ) -> None:
        """Add trickled ICE candidates to the caller's own peer connection."""
        if self._owners.get(pc_id) != _owner(caller):
            raise UnknownPeer(pc_id)
        if len(candidates) > MAX_CANDIDATES_PER_PATCH:
            raise OfferRejected(
                f"{len(candidates)} candidates in one request, over {MAX_CANDIDATES_PER_PATCH}"
            )
        for candidate in candidates:
            if candidate.candidate:
                try:
                    # The parser pipecat uses next; it asserts on short lines.
                    candidate_from_sdp(candidate.candidate)
                except (AssertionError, ValueError, IndexError) as exc:
                    raise OfferRejected(
                        f"ICE candidate does not parse: {candidate.candidate[:80]!r}"
                    ) from exc
        try:
            await self._handler.handle_patch_request(
                SmallWebRTCPatchRequest(pc_id=pc_id, candidates=candidates)
            )
        except HTTPException as exc:
            # The connection closed after its owner was recorded.
            raise UnknownPeer(pc_id) from exc
        except (ValueError, InvalidStateError) as exc:
            raise OfferRejected(f"ICE candidate rejected: {exc}") from exc

    async def _run_call(self, connection: SmallWebRTCConnection, caller: Identity) -> None:
        try:
            await self._start_call(connection, caller)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failed call must not take the server down; the browser sees the hang-up.
            log.exception("browser call %s ended with an error", connection.pc_id)
        finally:
            self._owners.pop(connection.pc_id, None)
            with contextlib.suppress(Exception):
                await connection.disconnect()

    async def close(self) -> None:
        """Hang up every call (server shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._handler.close()
        self._owners.clear()
