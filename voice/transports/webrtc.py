"""Browser calls over SmallWebRTC: offer checks, per-caller peer connections, call start-up.

The browser sends an SDP offer (POST /api/offer) and trickles its ICE candidates afterwards
(PATCH /api/offer). Each new peer connection belongs to the signed-in caller who offered it:
only that caller may renegotiate it or add candidates to it, so a leaked ``pc_id`` gives another
user nothing. The call itself (the pipecat pipeline) is started by a ``StartCall`` callback and
runs as a task of its own, so the offer is answered without waiting for models or the run core.

An offer is checked before anything is built for it (:func:`check_offer`): one that cannot
yield a working call is refused with the reason. Each call holds a slot from its offer to its
end, within a limit per user and per server (:class:`CallLimits`); beyond it, a 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aioice import mdns
from aiortc import RTCIceCandidate
from aiortc.codecs import CODECS
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.rtcdtlstransport import X509_DIGEST_ALGORITHMS
from aiortc.rtcpeerconnection import find_common_codecs
from aiortc.sdp import MediaDescription, SessionDescription, candidate_from_sdp
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
from voice.config import VoiceSettings, get_voice_settings

log = logging.getLogger(__name__)

# What aiortc and pipecat raise on an offer they cannot answer (aiortc asserts and indexes
# unchecked; a StopIteration of its parser surfaces as RuntimeError in a coroutine).
_UNANSWERABLE = (
    ValueError,
    LookupError,
    AssertionError,
    AttributeError,
    TypeError,
    RuntimeError,
    OperationError,
    InvalidAccessError,
    InvalidStateError,
)

# A browser's audio-only offer is 2-5 KB; anything far larger is not a call.
MAX_SDP_CHARS = 64_000
MAX_CANDIDATES_PER_PATCH = 64
PAGE_EVENT_LABEL = "baton"
# A call whose peer connection closed ends by itself well within this; a stuck one is cancelled.
HANG_UP_GRACE_SECONDS = 10.0
_SDP_LINE = re.compile(r"^[a-z]=")
# RFC 8839: ice-char is ALPHA / DIGIT / "+" / "/"; aioice fails later on anything else.
_ICE_UFRAG = re.compile(r"[A-Za-z0-9+/]{4,256}")
_ICE_PWD = re.compile(r"[A-Za-z0-9+/]{22,256}")
# aiortc verifies the peer's certificate only against these digests; any other never matches.
_CANDIDATE_TYPES = ("host", "srflx", "prflx", "relay")
_DIGEST_BYTES = {name: digest.digest_size for name, digest in X509_DIGEST_ALGORITHMS.items()}


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
    """Reject an offer that cannot yield a working call, with the reason, before any call starts.

    aiortc accepts almost any text (even "hello") and only fails much later, while connecting,
    and its parser fails on bad lines with whatever error the line happens to cause. The offer
    is parsed here with aiortc's own parser and held to what a call needs: an audio section
    with a codec aiortc speaks, ICE credentials, and a DTLS fingerprint aiortc can verify.
    """
    if sdp_type != "offer":
        raise OfferRejected(f"type must be 'offer', not {sdp_type!r}")
    if len(sdp) > MAX_SDP_CHARS:
        raise OfferRejected(f"SDP is {len(sdp)} characters, over the limit of {MAX_SDP_CHARS}")
    lines = [line for line in sdp.splitlines() if line]
    if not lines or lines[0] != "v=0":
        raise OfferRejected("SDP must start with the line 'v=0'")
    bad = next((line for line in lines if not _SDP_LINE.match(line)), None)
    if bad is not None:
        raise OfferRejected(f"SDP line is not '<letter>=<value>': {bad[:60]!r}")
    description = _parse(lines)
    if not any(media.kind == "audio" for media in description.media):
        raise OfferRejected("SDP has no 'm=audio' section: a call needs audio")
    mids = [media.rtp.muxId for media in description.media]
    if len(set(mids)) != len(mids):
        raise OfferRejected(f"SDP sections need distinct 'a=mid:' values, got {mids}"[:160])
    for group in description.group:
        unknown = [str(item) for item in group.items if item not in mids]
        if group.semantic == "BUNDLE" and unknown:
            raise OfferRejected(f"'a=group:BUNDLE' names no section with mid {unknown[0][:40]!r}")
    for index, media in enumerate(description.media):
        _check_media(index, media)


def _parse(lines: list[str]) -> SessionDescription:
    try:
        return SessionDescription.parse("\r\n".join(lines))
    except Exception as exc:  # the parser asserts, unpacks and indexes unchecked
        number, line = _first_unparsable_line(lines)
        raise OfferRejected(
            f"SDP does not parse: line {number} {line[:80]!r} ({type(exc).__name__})"
        ) from exc


def _first_unparsable_line(lines: list[str]) -> tuple[int, str]:
    """The line (1-based) whose addition makes the SDP fail to parse, by bisecting prefixes."""
    parses, fails = 0, len(lines)
    while fails - parses > 1:
        middle = (parses + fails) // 2
        try:
            SessionDescription.parse("\r\n".join(lines[:middle]))
        except Exception:  # any failure of the parser counts
            fails = middle
        else:
            parses = middle
    return fails, lines[fails - 1]


def _check_media(index: int, media: MediaDescription) -> None:
    section = f"m={media.kind} section {index + 1}"
    ice = media.ice
    if ice is None or not _ICE_UFRAG.fullmatch(ice.usernameFragment or ""):
        raise OfferRejected(
            f"{section} lacks a valid 'a=ice-ufrag:' (4-256 ICE characters): no ICE credentials"
        )
    if not _ICE_PWD.fullmatch(ice.password or ""):
        raise OfferRejected(
            f"{section} lacks a valid 'a=ice-pwd:' (22-256 ICE characters): no ICE credentials"
        )
    if media.dtls is None:
        raise OfferRejected(
            f"{section} lacks 'a=setup:' with a DTLS role (actpass, active or passive)"
        )
    supported = [f for f in media.dtls.fingerprints if f.algorithm.lower() in _DIGEST_BYTES]
    if not supported:
        offered = sorted({f.algorithm for f in media.dtls.fingerprints}) or ["none"]
        raise OfferRejected(
            f"{section} lacks 'a=fingerprint:' with an algorithm aiortc verifies "
            f"({', '.join(sorted(_DIGEST_BYTES))}); offered: {', '.join(offered)[:80]}"
        )
    for fingerprint in supported:
        size = _DIGEST_BYTES[fingerprint.algorithm.lower()]
        if not re.fullmatch(
            rf"[0-9A-Fa-f]{{2}}(:[0-9A-Fa-f]{{2}}){{{size - 1}}}", fingerprint.value
        ):
            raise OfferRejected(
                f"{section} has a malformed {fingerprint.algorithm} 'a=fingerprint:' "
                f"(expected {size} colon-separated hex bytes)"
            )
    for candidate in media.ice_candidates:
        _check_candidate(candidate)
    if media.kind == "audio":
        _check_audio(section, media)


def _check_audio(section: str, media: MediaDescription) -> None:
    if not media.rtcp_mux:
        raise OfferRejected(f"{section} lacks 'a=rtcp-mux', which WebRTC requires")
    if media.direction in ("recvonly", "inactive"):
        raise OfferRejected(
            f"{section} is {media.direction}: the caller's microphone would never be heard"
        )
    if not find_common_codecs(CODECS["audio"], media.rtp.codecs):
        ours = ", ".join(sorted({c.mimeType.split("/")[1] for c in CODECS["audio"]}))
        raise OfferRejected(f"{section} offers no audio codec aiortc speaks ({ours})")


def parse_candidate(line: str) -> RTCIceCandidate:
    """An ICE candidate line (``candidate:...`` as trickled) parsed, or why it is unusable."""
    try:
        candidate = candidate_from_sdp(line.removeprefix("a=").removeprefix("candidate:"))
    except Exception as exc:  # aiortc asserts on short lines and int()s unchecked
        raise OfferRejected(f"ICE candidate does not parse: {line[:80]!r}") from exc
    _check_candidate(candidate)
    return candidate


def _check_candidate(candidate: RTCIceCandidate) -> None:
    """Refuse what aioice would only fail on while connecting, after the call has started."""
    described = f"ICE candidate {candidate.foundation[:40]!r}"
    if candidate.protocol.lower() not in ("udp", "tcp"):
        raise OfferRejected(f"{described} has transport {candidate.protocol[:20]!r}, not udp/tcp")
    if candidate.type not in _CANDIDATE_TYPES:
        raise OfferRejected(
            f"{described} has type {candidate.type[:20]!r}, not host, srflx, prflx or relay"
        )
    if not 0 <= candidate.port <= 65535 or not 1 <= candidate.component <= 256:
        raise OfferRejected(f"{described} has an out-of-range port or component")
    if not 0 < candidate.priority < 2**32:
        raise OfferRejected(f"{described} has an out-of-range priority")
    if not mdns.is_mdns_hostname(candidate.ip):
        try:
            ipaddress.ip_address(candidate.ip)
        except ValueError as exc:
            raise OfferRejected(
                f"{described} address {candidate.ip[:60]!r} is neither an IP nor a .local name"
            ) from exc


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


@dataclass(frozen=True)
class CallLimits:
    """How many browser calls may run at once: per signed-in user, and on this server."""

    per_user: int
    per_server: int

    @classmethod
    def from_settings(cls, settings: VoiceSettings) -> CallLimits:
        """BATON_WEBRTC_MAX_CALLS_PER_USER and BATON_WEBRTC_MAX_CALLS."""
        return cls(
            per_user=settings.webrtc_max_calls_per_user, per_server=settings.webrtc_max_calls
        )


class TooManyCalls(BatonError):
    """The caller, or the server, already has as many browser calls as allowed."""

    status = 429
    code = "too_many_calls"


class CallSlots:
    """The calls in progress, counted per caller and in all; a call holds one slot to its end."""

    def __init__(self, limits: CallLimits) -> None:
        """Count calls against ``limits``."""
        self._limits = limits
        self._held: Counter[tuple[str, str]] = Counter()

    @property
    def total(self) -> int:
        """Slots held on this server."""
        return sum(self._held.values())

    def held_by(self, identity: Identity) -> int:
        """Slots held by this caller."""
        return self._held[_owner(identity)]

    def take(self, identity: Identity) -> None:
        """Hold a slot for a new call of ``identity``, or refuse with the limit reached."""
        owner = _owner(identity)
        if self._held[owner] >= self._limits.per_user:
            raise TooManyCalls(
                f"you already have {self._held[owner]} browser call(s) in progress, the most "
                f"allowed per user ({self._limits.per_user}); hang one up and call again"
            )
        if self.total >= self._limits.per_server:
            raise TooManyCalls(
                f"this server is taking {self.total} browser calls, its limit "
                f"({self._limits.per_server}); call again in a moment"
            )
        self._held[owner] += 1

    def give_back(self, identity: Identity) -> None:
        """Release one slot of ``identity`` (its call ended or never started)."""
        owner = _owner(identity)
        self._held[owner] -= 1
        if self._held[owner] <= 0:
            del self._held[owner]


class BrowserCalls:
    """The browser calls of one server process: signalling, ownership, slots, running tasks."""

    def __init__(
        self,
        start_call: StartCall,
        ice_servers: list[str] | None = None,
        limits: CallLimits | None = None,
        hang_up_grace_s: float = HANG_UP_GRACE_SECONDS,
    ) -> None:
        """Answer offers with ``start_call`` run once per new peer connection, within ``limits``.

        When a peer connection closes (hang-up, failed ICE or DTLS), its call has
        ``hang_up_grace_s`` to end by itself before it is cancelled.
        """
        self._start_call = start_call
        self._handler = SmallWebRTCRequestHandler(
            ice_servers=[IceServer(urls=url) for url in ice_servers or []],
            connection_mode=ConnectionMode.MULTIPLE,
        )
        self._owners: dict[str, tuple[str, str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.slots = CallSlots(limits or CallLimits.from_settings(get_voice_settings()))
        self._grace_s = hang_up_grace_s

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
        new_call = pc_id is None
        if new_call:
            self.slots.take(caller)
        slot_handed_over = False

        async def on_connection(connection: SmallWebRTCConnection) -> None:
            nonlocal slot_handed_over
            task = asyncio.create_task(
                self._run_call(connection, caller), name=f"browser-call-{connection.pc_id}"
            )
            slot_handed_over = True
            self._owners[connection.pc_id] = _owner(caller)
            self._tasks.add(task)
            # A done callback runs even for a task cancelled before it started.
            task.add_done_callback(lambda done: self._call_ended(done, connection, caller))
            self._end_with_connection(connection, task)

        try:
            answer = await self._handler.handle_web_request(request, on_connection)
        except _UNANSWERABLE as exc:
            raise OfferRejected(
                f"the offer cannot be answered: {exc or type(exc).__name__}"
            ) from exc
        finally:
            if new_call and not slot_handed_over:
                self.slots.give_back(caller)
        if answer is None:  # pragma: no cover - the handler raises instead
            raise OfferRejected("the offer produced no answer")
        if not new_call:  # a restarted connection answers under a new id
            self._owners[answer["pc_id"]] = _owner(caller)
        return answer

    def _end_with_connection(
        self, connection: SmallWebRTCConnection, task: asyncio.Task[None]
    ) -> None:
        """Cancel the call if it outlives its peer connection by more than the grace period.

        The pipeline ends by itself when its transport sees the connection close; a pipeline
        built after the close (models still loading, say) never hears of it and would hold
        its slot for ever.
        """

        async def closed(_connection: SmallWebRTCConnection) -> None:
            done, _ = await asyncio.wait({task}, timeout=self._grace_s)
            if not done:
                log.warning("browser call %s outlived its connection; ending it", connection.pc_id)
                task.cancel()

        connection.add_event_handler("closed", closed)

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
                parse_candidate(candidate.candidate)
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
            with contextlib.suppress(Exception):
                await connection.disconnect()

    def _call_ended(
        self, task: asyncio.Task[None], connection: SmallWebRTCConnection, caller: Identity
    ) -> None:
        self._tasks.discard(task)
        self._owners.pop(connection.pc_id, None)
        self.slots.give_back(caller)

    async def close(self) -> None:
        """Hang up every call (server shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._handler.close()
        self._owners.clear()
