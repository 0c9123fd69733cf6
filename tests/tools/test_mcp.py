"""MCP servers (a real process over stdio, and over streamable HTTP) behind the same gate."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.tools.gate import ToolGate
from core.tools.providers import build_registry
from core.tools.registry import ToolRegistry
from tests.tools.conftest import free_port

SERVER = str(Path(__file__).with_name("mcp_server.py"))


def registry_for(tmp_path, servers: dict) -> ToolRegistry:
    settings = Settings(
        data_dir=tmp_path,
        sandbox_bwrap="/nonexistent/bwrap",
        mcp_servers=servers,
        mcp_connect_timeout_seconds=30,
    )
    return build_registry(settings)


async def execute(gate: ToolGate, tool: str, args: dict, make_ctx, approved: bool = False):
    verdict = gate.judge("acme", "alice", tool, args, approved=approved)
    if verdict.outcome != "allow":
        return verdict
    assert verdict.spec is not None
    return await gate.execute(verdict.spec, args, make_ctx(None))


@pytest.fixture
def stdio_registry(tmp_path) -> Iterator[tuple[ToolRegistry, Path]]:
    ledger = tmp_path / "ledger.txt"
    registry = registry_for(
        tmp_path,
        {
            "local": {
                "command": sys.executable,
                "args": [SERVER, "--ledger", str(ledger)],
                "tools": {"add": {"risk_level": 0, "idempotency": "safe"}},
            }
        },
    )
    try:
        yield registry, ledger
    finally:
        registry.close()


@pytest.mark.slow
async def test_stdio_server_tools_are_registered_and_governed(stdio_registry, make_ctx):
    registry, ledger = stdio_registry
    names = [t.name for t in registry.all() if t.source == "mcp:local"]
    assert names == ["local__add", "local__fail", "local__record", "local__shout"]
    record = registry.get("local__record")
    assert int(record.risk_level) == 3  # not configured: an external side effect by default
    assert record.idempotency.value == "unsafe"
    assert record.scopes == ("mcp:local",)
    assert int(registry.get("local__add").risk_level) == 0
    gate = ToolGate(registry)

    added = await execute(gate, "local__add", {"a": 2, "b": 40}, make_ctx)
    assert added.status == "succeeded"
    assert added.data["result"] == {"result": 42}

    # a level-3 MCP tool waits for a human, and nothing reaches the server meanwhile
    waiting = await execute(gate, "local__record", {"line": "hello"}, make_ctx)
    assert waiting.outcome == "approve"
    assert not ledger.exists()
    done = await execute(gate, "local__record", {"line": "hello"}, make_ctx, approved=True)
    assert done.status == "succeeded"
    assert ledger.read_text() == "hello\n"

    failed = await execute(gate, "local__fail", {"reason": "quota exceeded"}, make_ctx, True)
    assert (failed.status, failed.error_type) == ("failed", "mcp_tool_error")
    assert "quota exceeded" in failed.message
    bad = gate.judge("acme", "alice", "local__add", {"a": "two", "b": 1})
    assert (bad.outcome, bad.error_type) == ("deny", "invalid_arguments")
    # scopes: a user without mcp:local never sees the server's tools
    visible = [t.name for t in gate.visible_tools("acme", "alice", {"notes:read"})]
    assert not [n for n in visible if n.startswith("local__")]


def start_http_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, SERVER, "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError("the MCP HTTP server exited") from None
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the MCP HTTP server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.mark.slow
async def test_streamable_http_server_and_reconnect_after_it_restarts(tmp_path, make_ctx):
    port = free_port()
    server = start_http_server(port)
    registry = registry_for(
        tmp_path,
        {
            "remote": {
                "url": f"http://127.0.0.1:{port}/mcp",
                "headers": {"X-Baton-Test": "1"},
                "risk_level": 0,
                "idempotency": "safe",
                "include": ["shout", "add"],
            }
        },
    )
    try:
        assert sorted(t.name for t in registry.all() if t.source == "mcp:remote") == [
            "remote__add",
            "remote__shout",
        ]
        gate = ToolGate(registry, retry_wait_s=0.01)
        loud = await execute(gate, "remote__shout", {"text": "quiet"}, make_ctx)
        assert loud.status == "succeeded", loud
        assert loud.data["result"] == {"result": "QUIET"}

        stop(server)
        down = await execute(gate, "remote__shout", {"text": "x"}, make_ctx)
        assert (down.status, down.error_type, down.retryable) == (
            "failed",
            "upstream_unavailable",
            True,
        )

        server = start_http_server(port)
        back = await execute(gate, "remote__add", {"a": 1, "b": 1}, make_ctx)
        assert back.status == "succeeded", back
        assert back.data["result"] == {"result": 2}
    finally:
        registry.close()
        stop(server)


def test_bad_mcp_configuration_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="either 'command'"):
        registry_for(tmp_path, {"x": {"args": []}})
    with pytest.raises(ValueError, match="unknown keys"):
        registry_for(tmp_path, {"x": {"command": "true", "risk": 1}})


def test_an_unreachable_server_contributes_no_tools(tmp_path, closed_port):
    registry = registry_for(tmp_path, {"gone": {"url": f"http://127.0.0.1:{closed_port}/mcp"}})
    try:
        assert not [t for t in registry.all() if t.source == "mcp:gone"]
        assert "notes_search" in registry  # the rest of the registry is intact
    finally:
        registry.close()
