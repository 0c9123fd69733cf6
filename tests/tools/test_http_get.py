"""http_get against a real local web server and the host allowlist."""

from __future__ import annotations

from core.config import Settings
from core.tools.builtin.http_tools import HttpTools, host_allowed
from core.tools.gate import ToolGate
from core.tools.registry import ToolRegistry


def gate_for(tmp_path, allowlist: str, max_bytes: int = 500_000) -> ToolGate:
    s = Settings(data_dir=tmp_path, http_allowlist=allowlist, http_max_bytes=max_bytes)
    return ToolGate(ToolRegistry(HttpTools(s).specs()), retry_wait_s=0.01)


async def fetch(gate: ToolGate, url: str, make_ctx, **extra):
    args = {"url": url, **extra}
    verdict = gate.judge("acme", "alice", "http_get", args)
    assert verdict.outcome == "allow"  # level 0: no approval
    return await gate.execute(gate.registry.get("http_get"), args, make_ctx(None))


async def test_fetches_an_allowlisted_page_as_visible_text(tmp_path, web, make_ctx):
    gate = gate_for(tmp_path, "127.0.0.1")
    page = await fetch(gate, f"{web}/hello", make_ctx)
    assert page.status == "succeeded", page
    assert page.data["title"] == "Hello"
    assert page.data["text"] == "Baton\nPlain & simple."  # no script, no style
    hopped = await fetch(gate, f"{web}/hop", make_ctx)
    assert hopped.data["url"] == f"{web}/hello"


async def test_hosts_off_the_allowlist_are_refused_even_through_a_redirect(tmp_path, web, make_ctx):
    gate = gate_for(tmp_path, "127.0.0.1")
    port = web.rsplit(":", 1)[1]
    direct = await fetch(gate, f"http://localhost:{port}/hello", make_ctx)
    assert (direct.status, direct.error_type) == ("failed", "host_not_allowed")
    redirected = await fetch(gate, f"{web}/escape", make_ctx)
    assert redirected.error_type == "host_not_allowed"
    scheme = await fetch(gate, "file:///etc/passwd", make_ctx)
    assert scheme.error_type == "invalid_arguments"


async def test_http_failures_are_normalised(tmp_path, web, make_ctx):
    gate = gate_for(tmp_path, "127.0.0.1", max_bytes=1000)
    down = await fetch(gate, f"{web}/broken", make_ctx)
    assert (down.error_type, down.retryable, down.attempts) == ("upstream_error", True, 2)
    missing = await fetch(gate, f"{web}/missing", make_ctx)
    assert (missing.error_type, missing.retryable) == ("http_error", False)
    big = await fetch(gate, f"{web}/big", make_ctx)
    assert big.data["truncated"] is True and len(big.data["text"]) == 1000


def test_allowlist_patterns_and_no_tool_without_an_allowlist(tmp_path):
    assert host_allowed("docs.example.com", ["*.example.com"])
    assert not host_allowed("example.com", ["*.example.com"])
    assert not host_allowed("example.com.evil.net", ["example.com"])
    assert host_allowed("Example.COM.", ["example.com"])
    assert "http_get" not in gate_for(tmp_path, "").registry
