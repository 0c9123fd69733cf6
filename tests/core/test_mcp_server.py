"""Baton as an MCP server, driven by the official SDK's client over streamable HTTP and stdio."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ResourceUpdatedNotification
from sqlalchemy import text

from core.auth.keys import create_key
from core.config import Settings
from core.store.db import make_engine
from core.tools.spec import RiskLevel
from tests.contacts.serving import serve
from tests.core.helpers import BATON, bump_spec, drive, ensure_side_effects, gate_with, side_effects

# resources/subscribe is what handshake-era clients have: deprecated in the SDK, served here.
pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
APPROVE_SCRIPT = [
    {"type": "tool_call", "tool": "counter.bump", "arguments": {"n": 7}},
    {"type": "respond", "message": "bumped"},
]
TOOLS = {"start_run", "get_run", "list_runs", "send_message", "approve", "deny", "cancel", "resume"}


class Updates:
    """The resources/updated notifications a client received."""

    def __init__(self) -> None:
        self.uris: list[str] = []

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.uris.append(message.params.uri)


@contextlib.asynccontextmanager
async def http_client(
    url: str, key: str | None, updates: Updates | None = None, mode: str = "legacy"
) -> AsyncIterator[Client]:
    """The SDK's client on the app's /mcp endpoint, sending ``key`` as a Bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(
            streamable_http_client(f"{url}/mcp", http_client=http),
            mode=mode,  # type: ignore[arg-type]
            message_handler=updates,
            cache=None,
        ) as client,
    ):
        yield client


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert result.is_error, result.structured_content
    return str(result.content[0].text)  # type: ignore[union-attr]


async def eventually(predicate: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def settings() -> Settings:
    return Settings(plugins="none", agent="scripted")


async def test_a_run_is_started_followed_and_approved_once(engine):
    ensure_side_effects(engine)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
    key = create_key(engine, "acme", "alice")
    updates = Updates()
    with serve(engine, settings()) as url:
        async with http_client(url, key, updates) as c:
            assert {t.name for t in (await c.list_tools()).tools} == TOOLS
            run = await ok(
                c, "start_run", goal="bump", meta={"script": APPROVE_SCRIPT}, idempotency_key="k1"
            )
            assert (run["status"], run["replayed"]) == ("queued", False)
            again = await ok(
                c, "start_run", goal="bump", meta={"script": APPROVE_SCRIPT}, idempotency_key="k1"
            )
            assert (again["run_id"], again["replayed"]) == (run["run_id"], True)
            reason = await refused(c, "start_run", goal="other", idempotency_key="k1")
            assert reason == "this Idempotency-Key was used for a different request"

            uri = f"baton://runs/{run['run_id']}/events"
            await c.subscribe_resource(uri)
            await asyncio.to_thread(drive, engine, gate)
            waiting = await ok(c, "get_run", run_id=run["run_id"])
            assert waiting["status"] == "waiting_for_human"
            approval = waiting["pending_approval"]
            assert approval["tool_name"] == "counter.bump" and approval["arguments"] == {"n": 7}
            await eventually(lambda: uri in updates.uris)
            events = json.loads((await c.read_resource(uri)).contents[0].text)  # type: ignore[union-attr]
            assert "ApprovalRequested" in [e["type"] for e in events]
            assert side_effects(engine, run["run_id"]) == []

            seen = len(updates.uris)
            decided = await ok(c, "approve", run_id=run["run_id"])
            assert decided["status"] == "queued" and decided["pending_approval"] is None
            await eventually(lambda: len(updates.uris) > seen)
            replay = await refused(
                c, "approve", run_id=run["run_id"], approval_id=approval["approval_id"]
            )
            assert replay == f"approval '{approval['approval_id']}' is already approved"
            await asyncio.to_thread(drive, engine, gate)
            done = await ok(c, "get_run", run_id=run["run_id"])
            assert (done["status"], done["result"]) == ("completed", "bumped")
            assert side_effects(engine, run["run_id"]) == [7]
            listed = await ok(c, "list_runs")
            assert [r["run_id"] for r in listed["runs"]] == [run["run_id"]]


async def test_another_tenants_run_is_not_found_and_a_scope_is_needed_to_decide(engine):
    ensure_side_effects(engine)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
    alice = create_key(engine, "acme", "alice")
    mallory = create_key(engine, "evil", "mallory")
    viewer = create_key(engine, "acme", "viewer")
    with engine.begin() as conn:
        conn.execute(text("update users set scopes = :s where user_id = 'viewer'"), {"s": "[]"})
    with serve(engine, settings()) as url:
        async with http_client(url, alice) as c:
            run = await ok(c, "start_run", goal="bump", meta={"script": APPROVE_SCRIPT})
        run_id = run["run_id"]
        await asyncio.to_thread(drive, engine, gate)
        async with http_client(url, mallory) as m:
            for tool, extra in (("get_run", {}), ("approve", {}), ("cancel", {"reason": "x"})):
                assert await refused(m, tool, run_id=run_id, **extra) == f"no run '{run_id}'"
            assert (await ok(m, "list_runs"))["runs"] == []
            with pytest.raises(MCPError, match="no run"):
                await m.read_resource(f"baton://runs/{run_id}/events")
            with pytest.raises(MCPError, match="no run"):
                await m.subscribe_resource(f"baton://runs/{run_id}")
        async with http_client(url, viewer) as v:
            v_run = await ok(v, "start_run", goal="bump", meta={"script": APPROVE_SCRIPT})
            await asyncio.to_thread(drive, engine, gate)
            reason = await refused(v, "approve", run_id=v_run["run_id"])
            assert reason == "this key lacks the 'approve' scope"
            assert (await ok(v, "get_run", run_id=v_run["run_id"]))["status"] == (
                "waiting_for_human"
            )
        async with http_client(url, alice) as c:
            assert (await ok(c, "get_run", run_id=run_id))["status"] == "waiting_for_human"
            denied = await ok(c, "deny", run_id=run_id)
            assert denied["pending_approval"] is None
    assert side_effects(engine, run_id) == []


async def test_a_run_is_messaged_cancelled_and_resumed_with_the_apis_refusals(engine):
    key = create_key(engine, "acme", "alice")
    with serve(engine, settings()) as url:
        async with http_client(url, key) as c:
            assert await refused(c, "start_run", goal="  ") == "goal must not be empty"
            bad = await refused(c, "start_run", goal="x", colour="red")
            assert bad.startswith("invalid arguments: colour:")
            run = await ok(c, "start_run", goal="wait")
            run_id = run["run_id"]
            assert (await ok(c, "cancel", run_id=run_id, reason="later"))["status"] == "cancelled"
            assert "cancelled" in await refused(c, "cancel", run_id=run_id)
            assert (await ok(c, "resume", run_id=run_id))["status"] == "queued"
            await ok(c, "send_message", run_id=run_id, text="also this")
            assert await refused(c, "send_message", run_id=run_id, text="") == (
                "message must not be empty"
            )
            base = f"baton://runs/{run_id}"
            events = json.loads((await c.read_resource(f"{base}/events")).contents[0].text)  # type: ignore[union-attr]
            types = [e["type"] for e in events]
            assert {"RunCancelled", "RunResumed", "UserMessageReceived"} <= set(types)
            artifacts = json.loads((await c.read_resource(f"{base}/artifacts")).contents[0].text)  # type: ignore[union-attr]
            assert artifacts == []
            listed = await c.list_resources()
            assert [r.uri for r in listed.resources] == [base]
            with pytest.raises(MCPError, match="no resource"):
                await c.read_resource("baton://elsewhere/1")


async def test_no_key_or_a_bad_key_is_refused_with_401(engine):
    key = create_key(engine, "acme", "alice")
    with serve(engine, settings()) as url:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        async with httpx.AsyncClient() as http:
            missing = await http.post(f"{url}/mcp", json=body)
            bad = await http.post(
                f"{url}/mcp", json=body, headers={"Authorization": f"Bearer {key}x"}
            )
        assert missing.status_code == 401 and "missing API key" in missing.json()["detail"]
        assert bad.status_code == 401 and bad.json()["detail"] == "invalid or revoked API key"
        # The SDK's client reports the 401 as a generic error response, inside task groups.
        with pytest.raises(BaseExceptionGroup) as refused_client:
            async with http_client(url, None):
                pass
        assert refused_client.value.subgroup(MCPError) is not None


async def test_a_modern_client_listens_to_its_run(engine):
    key = create_key(engine, "acme", "alice")
    gate = gate_with()
    with serve(engine, settings()) as url:
        async with http_client(url, key, mode="auto") as c:
            run = await ok(c, "start_run", goal="say hi")
            uri = f"baton://runs/{run['run_id']}"
            async with c.listen(resource_subscriptions=[uri, "baton://runs/run_unknown"]) as sub:
                assert sub.honored.resource_subscriptions == [uri]
                await asyncio.to_thread(drive, engine, gate)
                event = await asyncio.wait_for(anext(aiter(sub)), 20)
                assert event.uri == uri  # type: ignore[union-attr]
            done = json.loads((await c.read_resource(uri)).contents[0].text)  # type: ignore[union-attr]
            assert done["status"] == "completed"


async def test_stdio_serves_the_key_holder(tmp_path: Path, sqlite_template: Path):
    db = tmp_path / "baton.db"
    shutil.copy(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    try:
        ensure_side_effects(engine)
        gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
        key = create_key(engine, "acme", "alice")
        other = create_key(engine, "evil", "mallory")
        env = {
            "BATON_DATABASE_URL": f"sqlite:///{db}",
            "BATON_DATA_DIR": str(tmp_path),
            "BATON_API_KEY": key,
            "BATON_PLUGINS": "none",
            "BATON_AGENT": "scripted",
        }
        # Started first, checked last: a refused key costs a process start, in parallel.
        wrong = await asyncio.create_subprocess_exec(
            BATON,
            "mcp",
            "--api-key",
            other + "x",
            env={**get_default_environment(), **env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        params = StdioServerParameters(command=BATON, args=["mcp", "--no-workers"], env=env)
        updates = Updates()
        async with Client(params, mode="legacy", message_handler=updates, cache=None) as c:
            run = await ok(c, "start_run", goal="bump", meta={"script": APPROVE_SCRIPT})
            uri = f"baton://runs/{run['run_id']}/events"
            await c.subscribe_resource(uri)
            await asyncio.to_thread(drive, engine, gate)
            await eventually(lambda: uri in updates.uris)
            waiting = await ok(c, "get_run", run_id=run["run_id"])
            approval_id = waiting["pending_approval_id"]
            await ok(c, "approve", run_id=run["run_id"], approval_id=approval_id)
            replay = await refused(c, "approve", run_id=run["run_id"], approval_id=approval_id)
            assert replay == f"approval '{approval_id}' is already approved"
            await asyncio.to_thread(drive, engine, gate)
            assert (await ok(c, "get_run", run_id=run["run_id"]))["status"] == "completed"
        assert side_effects(engine, run["run_id"]) == [7]

        out, err = await asyncio.wait_for(wrong.communicate(), 60)
        assert wrong.returncode == 1 and out == b""
        assert "invalid or revoked API key" in err.decode()
    finally:
        engine.dispose()
