"""Browser call signalling: the call page, POST/PATCH /api/offer, identity and bad input.

The app here is the voice router on the core's error handlers and real API-key auth; the call
itself is a recorder (what runs a call is covered by tests/voice/test_browser_call.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from fastapi import FastAPI
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from core.api.errors import install_error_handlers
from core.auth.keys import Identity, create_key
from core.config import Settings
from core.runtime import get_runtime, set_runtime
from tests.engines import SQLITE_ONLY
from voice.config import VoiceSettings
from voice.routes.browser import install_browser
from voice.transports.webrtc import BrowserCalls, CallLimits


class Harness:
    def __init__(self, client: httpx.AsyncClient, calls: BrowserCalls, keys: dict[str, str]):
        self.client = client
        self.calls = calls
        self.keys = keys
        self.started: list[Identity] = []
        self.connections: list[SmallWebRTCConnection] = []
        self.hang_ups: dict[str, asyncio.Event] = {}

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def offer(self, who: str, sdp: str, pc_id: str | None = None) -> httpx.Response:
        body = {"sdp": sdp, "type": "offer", **({"pc_id": pc_id} if pc_id else {})}
        return await self.client.post("/api/offer", json=body, headers=self.auth(who))

    def hang_up(self, pc_id: str) -> None:
        """End a call from the server's side, as the pipeline does when the caller says bye."""
        self.hang_ups[pc_id].set()


@contextlib.asynccontextmanager
async def open_harness(
    database_url: str, tmp_path: Path, limits: CallLimits | None = None
) -> AsyncIterator[Harness]:
    set_runtime(None)
    runtime = get_runtime(Settings(data_dir=tmp_path, database_url=database_url))
    keys = {who: create_key(runtime.engine, "acme", who) for who in ("alice", "bob", "carol")}
    app = FastAPI()
    app.state.identity_resolvers = []
    app.state.shutdown_hooks = []
    install_error_handlers(app)
    started: list[Identity] = []
    connections: list[SmallWebRTCConnection] = []
    hang_ups: dict[str, asyncio.Event] = {}

    async def record_call(connection: SmallWebRTCConnection, caller: Identity) -> None:
        started.append(caller)
        connections.append(connection)
        # The call lasts until it is hung up; it ignores its connection closing, as a pipeline
        # built after the close would.
        await hang_ups.setdefault(connection.pc_id, asyncio.Event()).wait()

    calls = install_browser(
        app,
        record_call,
        ice_servers=[],
        limits=limits or CallLimits.from_settings(VoiceSettings()),
        hang_up_grace_s=0.2,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://baton.test") as client:
        h = Harness(client, calls, keys)
        h.started, h.connections, h.hang_ups = started, connections, hang_ups
        try:
            yield h
        finally:
            for hook in app.state.shutdown_hooks:
                await hook(app)
            runtime.engine.dispose()
            set_runtime(None)


@pytest.fixture
async def harness(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(database_url, tmp_path) as h:
        yield h


async def browser_like_offer() -> tuple[RTCPeerConnection, str]:
    """An offer as a browser makes it: one audio transceiver and a data channel."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.createDataChannel("baton")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_call_page_has_button_meter_transcript_and_question(harness: Harness) -> None:
    page = await harness.client.get("/call")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for element in ('id="call"', 'id="level"', 'id="transcript"', 'id="pending"'):
        assert element in page.text
    script = await harness.client.get("/call/assets/call.js")
    assert script.status_code == 200 and "/api/offer" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    style = await harness.client.get("/call/assets/call.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    missing = await harness.client.get("/call/assets/../plugin.py")
    assert missing.status_code == 404


async def test_offer_is_answered_and_the_call_runs_as_the_signed_in_user(
    harness: Harness,
) -> None:
    pc, sdp = await browser_like_offer()
    try:
        answer = await harness.client.post(
            "/api/offer", json={"sdp": sdp, "type": "offer"}, headers=harness.auth("alice")
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["type"] == "answer" and body["pc_id"]
        assert "m=audio" in body["sdp"] and "a=fingerprint:" in body["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        await until(lambda: bool(harness.started), "the call pipeline to start")
        assert harness.started == [Identity("acme", "alice")]

        # Trickled candidates reach alice's own connection...
        candidate = {
            "candidate": "candidate:1 1 udp 2122260223 127.0.0.2 50000 typ host generation 0",
            "sdp_mid": "0",
            "sdp_mline_index": 0,
        }
        ok = await harness.client.patch(
            "/api/offer",
            json={"pc_id": body["pc_id"], "candidates": [candidate]},
            headers=harness.auth("alice"),
        )
        assert ok.status_code == 204, ok.text
        # ...but bob can neither add candidates to it nor renegotiate it.
        theirs = await harness.client.patch(
            "/api/offer",
            json={"pc_id": body["pc_id"], "candidates": [candidate]},
            headers=harness.auth("bob"),
        )
        assert theirs.status_code == 404
        hijack = await harness.client.post(
            "/api/offer",
            json={"sdp": sdp, "type": "offer", "pc_id": body["pc_id"]},
            headers=harness.auth("bob"),
        )
        assert hijack.status_code == 404
        assert harness.calls.active_calls == 1
    finally:
        await pc.close()


async def test_offer_needs_a_signed_in_user(harness: Harness) -> None:
    pc, sdp = await browser_like_offer()
    try:
        anonymous = await harness.client.post("/api/offer", json={"sdp": sdp, "type": "offer"})
        assert anonymous.status_code == 401
        forged = await harness.client.post(
            "/api/offer",
            json={"sdp": sdp, "type": "offer"},
            headers={"Authorization": "Bearer bk_0000000000000000_notarealsecretnotarealsecret"},
        )
        assert forged.status_code == 401
        assert harness.started == []
    finally:
        await pc.close()


def _without(sdp: str, prefix: str) -> str:
    return "\r\n".join(line for line in sdp.split("\r\n") if not line.startswith(prefix))


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda sdp: "hello", "v=0"),
        (lambda sdp: "", "v=0"),
        (lambda sdp: sdp.replace("m=audio", "m=video"), "m=audio"),
        (lambda sdp: _without(sdp, "a=ice-ufrag"), "ice-ufrag"),
        (lambda sdp: _without(sdp, "a=fingerprint"), "fingerprint"),
        (lambda sdp: sdp.replace("\r\nc=", "\r\nnot an sdp line\r\nc=", 1), "not '<letter>"),
        (lambda sdp: sdp + "a=x:" + "y" * 70_000, "over the limit"),
    ],
    ids=["garbage", "empty", "no-audio", "no-ice", "no-fingerprint", "bad-line", "huge"],
)
async def test_malformed_offer_is_a_400_with_the_reason(
    harness: Harness, mangle, reason: str
) -> None:
    pc, sdp = await browser_like_offer()
    try:
        response = await harness.client.post(
            "/api/offer", json={"sdp": mangle(sdp), "type": "offer"}, headers=harness.auth("alice")
        )
    finally:
        await pc.close()
    if reason == "over the limit":
        # Pydantic's length limit answers first: still a 4xx that names the field.
        assert response.status_code == 422, response.text
        assert "sdp" in response.text
    else:
        assert response.status_code == 400, response.text
        assert reason in response.json()["detail"]
    assert harness.started == []


async def test_bad_type_and_bad_candidates_are_4xx_never_5xx(harness: Harness) -> None:
    pc, sdp = await browser_like_offer()
    try:
        answer_type = await harness.client.post(
            "/api/offer", json={"sdp": sdp, "type": "answer"}, headers=harness.auth("alice")
        )
        assert answer_type.status_code == 400
        assert "offer" in answer_type.json()["detail"]
        not_json = await harness.client.post(
            "/api/offer",
            content=b"{sdp",
            headers={**harness.auth("alice"), "Content-Type": "application/json"},
        )
        assert not_json.status_code == 422

        good = await harness.client.post(
            "/api/offer", json={"sdp": sdp, "type": "offer"}, headers=harness.auth("alice")
        )
        pc_id = good.json()["pc_id"]
        for candidate, status in [
            ({"candidate": "candidate:garbage", "sdp_mid": "0"}, 400),
            ({"candidate": "candidate:1 1 udp x 1.2.3.4 5 typ host", "sdp_mid": "0"}, 400),
            ({"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host"}, 422),
        ]:
            response = await harness.client.patch(
                "/api/offer",
                json={"pc_id": pc_id, "candidates": [candidate]},
                headers=harness.auth("alice"),
            )
            assert response.status_code == status, (candidate, response.text)
        unknown = await harness.client.patch(
            "/api/offer",
            json={"pc_id": "SmallWebRTCConnection#0-nope", "candidates": []},
            headers=harness.auth("alice"),
        )
        assert unknown.status_code == 404
    finally:
        await pc.close()


async def until(condition: Callable[[], bool], what: str, bound_s: float = 30.0) -> None:
    """Wait for an observable condition; the bound only guards against a hang."""
    deadline = asyncio.get_running_loop().time() + bound_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still waiting for: {what}")
        await asyncio.sleep(0.02)


def _replace(old: str, new: str) -> Callable[[str], str]:
    def mangle(sdp: str) -> str:
        assert old in sdp, old
        return sdp.replace(old, new, 1)

    return mangle


def _line(prefix: str) -> Callable[[str], str]:
    """The first line starting with ``prefix``, as it is in this offer."""

    def find(sdp: str) -> str:
        return next(line for line in sdp.split("\r\n") if line.startswith(prefix))

    return find


def _replace_line(prefix: str, new: str) -> Callable[[str], str]:
    return lambda sdp: sdp.replace(_line(prefix)(sdp), new, 1)


def _media_line_pts(sdp: str, pts: str) -> str:
    audio = _line("m=audio")(sdp)
    return sdp.replace(audio, audio.rsplit("SAVPF", 1)[0] + "SAVPF " + pts, 1)


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("mangle", "culprit"),
    [
        (_replace_line("c=IN IP4", "c=IN"), "'c=IN'"),
        (_replace("\r\nt=0 0", "\r\nc=IN\r\nt=0 0"), "'c=IN'"),
        (_replace("a=setup:actpass", "a=setup:holdconn"), "a=setup:holdconn"),
        (_replace("a=setup:actpass", "a=setup"), "'a=setup'"),
        (_replace("a=rtcp:9 IN IP4 0.0.0.0", "a=rtcp:9 IN"), "a=rtcp:9 IN"),
        (_replace("a=rtcp:9 IN IP4 0.0.0.0", "a=rtcp"), "'a=rtcp'"),
        (lambda sdp: sdp + "a=candidate:garbage\r\n", "a=candidate:garbage"),
        (_replace("a=rtcp-mux", "a=rtcp-mux\r\na=fmtp:77 x=1"), "a=fmtp:77"),
        (_replace_line("a=rtpmap:96", "a=rtpmap:96 opus"), "a=rtpmap:96 opus"),
        (lambda sdp: _media_line_pts(sdp, "300"), "SAVPF 300"),
        (_replace("a=msid-semantic:WMS *", "a=msid-semantic"), "a=msid-semantic"),
        (_replace("a=sctp-port:5000", "a=sctp-port"), "a=sctp-port"),
        (_replace_line("a=fingerprint:sha-256", "a=fingerprint"), "a=fingerprint"),
    ],
    ids=[
        "media-c-line",
        "session-c-line",
        "setup-role",
        "setup-empty",
        "rtcp-address",
        "rtcp-empty",
        "candidate-garbage",
        "fmtp-unknown-codec",
        "rtpmap-short",
        "payload-type-300",
        "msid-semantic-empty",
        "sctp-port-empty",
        "fingerprint-empty",
    ],
)
async def test_offer_aiortc_cannot_parse_is_a_400_naming_the_line(
    harness: Harness, mangle: Callable[[str], str], culprit: str
) -> None:
    pc, sdp = await browser_like_offer()
    await pc.close()
    response = await harness.offer("alice", mangle(sdp))
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert "does not parse" in detail and culprit in detail, detail
    assert harness.started == [] and harness.calls.slots.total == 0


def _fingerprints(algorithm: str) -> Callable[[str], str]:
    def mangle(sdp: str) -> str:
        return sdp.replace("a=fingerprint:sha-", f"a=fingerprint:{algorithm}-")

    return mangle


def _with_candidate(candidate: str) -> Callable[[str], str]:
    return _replace("a=ice-ufrag", f"a=candidate:{candidate}\r\na=ice-ufrag")


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (_fingerprints("md9"), "md9"),
        (_replace_line("a=fingerprint:sha-256", "a=fingerprint:sha-256 AB:CD"), "malformed"),
        (lambda sdp: _without(sdp, "a=setup"), "a=setup"),
        (lambda sdp: _without(sdp, "a=ice-pwd"), "ice-pwd"),
        (_replace("a=ice-ufrag:", "a=ice-ufrag:é"), "ice-ufrag"),
        (lambda sdp: _without(sdp, "a=rtcp-mux"), "rtcp-mux"),
        (_replace("a=sendrecv", "a=recvonly"), "recvonly"),
        (_replace("a=sendrecv", "a=inactive"), "inactive"),
        (
            lambda sdp: _without(_media_line_pts(sdp, "97"), "a=rtpmap").replace(
                "a=rtcp-mux", "a=rtcp-mux\r\na=rtpmap:97 AMR/8000", 1
            ),
            "codec",
        ),
        (_with_candidate("1 1 udp 2122260223 not-an-address 50000 typ host"), "not-an-address"),
        (_with_candidate("1 1 udp 2122260223 192.0.2.9 50000 typ nonsense"), "nonsense"),
        (_with_candidate("1 1 sctp 2122260223 192.0.2.9 50000 typ host"), "sctp"),
        (_with_candidate("1 1 udp 2122260223 192.0.2.9 70000 typ host"), "port"),
        (_replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 7"), "BUNDLE"),
        (_replace("a=mid:1", "a=mid:0"), "a=mid"),
        (_replace("m=audio", "m=video"), "m=audio"),
    ],
    ids=[
        "fingerprint-md9",
        "fingerprint-value",
        "no-setup",
        "no-ice-pwd",
        "ice-ufrag-characters",
        "no-rtcp-mux",
        "audio-recvonly",
        "audio-inactive",
        "no-usable-codec",
        "candidate-address",
        "candidate-type",
        "candidate-transport",
        "candidate-port",
        "bundle-unknown-mid",
        "duplicate-mid",
        "no-audio",
    ],
)
async def test_garbage_offer_is_refused_before_any_call_is_built(
    harness: Harness, mangle: Callable[[str], str], reason: str
) -> None:
    pc, sdp = await browser_like_offer()
    await pc.close()
    response = await harness.offer("alice", mangle(sdp))
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    # Nothing was started for it, and it holds no call slot.
    await asyncio.sleep(0)
    assert harness.started == [] and harness.calls.active_calls == 0
    assert harness.calls.slots.total == 0


async def _answered(harness: Harness, who: str) -> tuple[RTCPeerConnection, str]:
    pc, sdp = await browser_like_offer()
    response = await harness.offer(who, sdp)
    assert response.status_code == 200, response.text
    return pc, response.json()["pc_id"]


async def test_concurrent_calls_are_capped_per_user_and_per_server(
    database_url: str, tmp_path: Path
) -> None:
    peers: list[RTCPeerConnection] = []
    limits = CallLimits(per_user=1, per_server=2)
    async with open_harness(database_url, tmp_path, limits) as harness:
        try:
            pc, alices = await _answered(harness, "alice")
            peers.append(pc)
            pc, sdp = await browser_like_offer()
            peers.append(pc)
            second = await harness.offer("alice", sdp)
            assert second.status_code == 429, second.text
            assert second.json()["error"] == "too_many_calls"
            assert "per user (1)" in second.json()["detail"]

            # Renegotiating a call in progress is not a new call.
            again = await harness.offer("alice", sdp, pc_id=alices)
            assert again.status_code == 200, again.text

            pc, bobs = await _answered(harness, "bob")
            peers.append(pc)
            full = await harness.offer("carol", sdp)
            assert full.status_code == 429, full.text
            assert "limit (2)" in full.json()["detail"]

            # Bob hangs up: his slot is free for carol.
            await until(lambda: bobs in harness.hang_ups, "bob's call to start")
            harness.hang_up(bobs)
            await until(lambda: harness.calls.slots.total == 1, "bob's slot to be released")
            pc, _carols = await _answered(harness, "carol")
            peers.append(pc)
            await until(lambda: len(harness.started) == 3, "carol's call to start")
            assert [who.user_id for who in harness.started] == ["alice", "bob", "carol"]
        finally:
            for peer in peers:
                await peer.close()


async def test_a_failed_connection_releases_its_slot(database_url: str, tmp_path: Path) -> None:
    limits = CallLimits(per_user=1, per_server=1)
    async with open_harness(database_url, tmp_path, limits) as harness:
        pc, sdp = await browser_like_offer()
        try:
            # The browser trickles its candidates, then ends them without one that works:
            # ICE fails on the server's side, and the call that was started must end.
            trickled = _without(_without(sdp, "a=candidate"), "a=end-of-candidates")
            response = await harness.offer("alice", trickled)
            assert response.status_code == 200, response.text
            pc_id = response.json()["pc_id"]
            refused = await harness.offer("alice", sdp)
            assert refused.status_code == 429
            end = {"candidate": "", "sdp_mid": "0", "sdp_mline_index": 0}
            ended = await harness.client.patch(
                "/api/offer",
                json={"pc_id": pc_id, "candidates": [end]},
                headers=harness.auth("alice"),
            )
            assert ended.status_code == 204, ended.text
            await until(lambda: harness.calls.slots.total == 0, "the failed call's slot")
            assert harness.connections[0].pc.connectionState == "closed"
            assert harness.calls.active_calls == 0
            retry = await harness.offer("alice", sdp)
            assert retry.status_code == 200, retry.text
        finally:
            await pc.close()


async def test_the_browser_hanging_up_releases_its_slot(database_url: str, tmp_path: Path) -> None:
    limits = CallLimits(per_user=1, per_server=1)
    async with open_harness(database_url, tmp_path, limits) as harness:
        pc, sdp = await browser_like_offer()
        try:
            if "a=candidate:" not in sdp:
                pytest.skip("this machine has no non-loopback address for a host candidate")
            response = await harness.offer("alice", sdp)
            assert response.status_code == 200, response.text
            answer = response.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
            await until(lambda: pc.connectionState == "connected", "the call to connect")
            await until(lambda: bool(harness.started), "the call to start")
            assert harness.calls.slots.held_by(Identity("acme", "alice")) == 1
        finally:
            await pc.close()
        await until(lambda: harness.calls.slots.total == 0, "the hung-up call's slot")
        assert harness.calls.active_calls == 0
        pc, _pc_id = await _answered(harness, "alice")
        await pc.close()
