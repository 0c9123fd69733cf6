"""Browser call signalling: the call page, POST/PATCH /api/offer, identity and bad input.

The app here is the voice router on the core's error handlers and real API-key auth; the call
itself is a recorder (what runs a call is covered by tests/voice/test_browser_call.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
from voice.routes.browser import install_browser
from voice.transports.webrtc import BrowserCalls


class Harness:
    def __init__(self, client: httpx.AsyncClient, calls: BrowserCalls, keys: dict[str, str]):
        self.client = client
        self.calls = calls
        self.keys = keys
        self.started: list[Identity] = []

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture
async def harness(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    set_runtime(None)
    runtime = get_runtime(Settings(data_dir=tmp_path, database_url=database_url))
    keys = {
        "alice": create_key(runtime.engine, "acme", "alice"),
        "bob": create_key(runtime.engine, "acme", "bob"),
    }
    app = FastAPI()
    app.state.identity_resolvers = []
    app.state.shutdown_hooks = []
    install_error_handlers(app)
    started: list[Identity] = []

    async def record_call(connection: SmallWebRTCConnection, caller: Identity) -> None:
        started.append(caller)
        await asyncio.Event().wait()  # a call lasts until it is hung up

    calls = install_browser(app, record_call, ice_servers=[])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://baton.test") as client:
        h = Harness(client, calls, keys)
        h.started = started
        try:
            yield h
        finally:
            for hook in app.state.shutdown_hooks:
                await hook(app)
            runtime.engine.dispose()
            set_runtime(None)


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
        for _ in range(100):
            if harness.started:
                break
            await asyncio.sleep(0.01)
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
