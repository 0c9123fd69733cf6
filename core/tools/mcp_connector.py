"""MCP connector: external MCP servers' tools, in the registry, behind the same gate.

Servers are configured in BATON_MCP_SERVERS (JSON), one entry per server::

    {"files": {"command": "python", "args": ["server.py"], "env": {"K": "v"}},
     "crm":   {"url": "http://127.0.0.1:9000/mcp", "headers": {"Authorization": "Bearer ..."},
               "risk_level": 3, "scopes": ["crm"], "idempotency": "unsafe",
               "tools": {"get_account": {"risk_level": 0, "idempotency": "safe"}},
               "include": ["get_account", "update_account"]}}

A server's tools are registered as ``<server>__<tool>``. Their risk level comes from this
configuration (default 3: an external side effect, approval required), never from what the
server says about itself; so does their replay behaviour (default ``unsafe``).

The official ``mcp`` SDK's sessions live in anyio task groups, so each server gets one
long-lived task on a private event loop in a background thread (the :class:`McpHub`); tool
calls from any worker loop are handed to it and awaited. A session that breaks is reopened
on the next call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import mcp.types as mt
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolError, ToolResult, ToolSpec

log = logging.getLogger(__name__)
NAME_OK = re.compile(r"[^A-Za-z0-9_-]")
SERVER_KEYS = {
    "command", "args", "env", "cwd", "url", "headers", "risk_level", "scopes", "idempotency",
    "timeout_s", "tools", "include",
}  # fmt: skip
TOOL_KEYS = {"risk_level", "scopes", "idempotency", "timeout_s", "description"}
Job = tuple[str, dict[str, Any], "concurrent.futures.Future[Any]"]


@dataclass(frozen=True)
class McpServerConfig:
    """One configured MCP server and how its tools are governed."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    risk_level: int = int(RiskLevel.EXTERNAL_SIDE_EFFECT)
    scopes: tuple[str, ...] | None = None
    idempotency: str = Idempotency.UNSAFE.value
    timeout_s: float = 60.0
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    include: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, name: str, raw: dict[str, Any]) -> McpServerConfig:
        """Validate one BATON_MCP_SERVERS entry; ValueError says what is wrong."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,30}", name):
            raise ValueError(f"MCP server name {name!r}: use 1-30 letters, digits, - or _")
        unknown = set(raw) - SERVER_KEYS
        if unknown:
            raise ValueError(f"MCP server {name}: unknown keys {sorted(unknown)}")
        if bool(raw.get("command")) == bool(raw.get("url")):
            raise ValueError(f"MCP server {name}: give either 'command' (stdio) or 'url' (HTTP)")
        for tool, over in (raw.get("tools") or {}).items():
            bad = set(over) - TOOL_KEYS
            if bad:
                raise ValueError(f"MCP server {name}, tool {tool}: unknown keys {sorted(bad)}")
        config = cls(
            name=name,
            command=raw.get("command"),
            args=tuple(str(a) for a in raw.get("args", ())),
            env={str(k): str(v) for k, v in raw["env"].items()} if raw.get("env") else None,
            cwd=raw.get("cwd"),
            url=raw.get("url"),
            headers={str(k): str(v) for k, v in raw["headers"].items()}
            if raw.get("headers")
            else None,
            risk_level=int(raw.get("risk_level", RiskLevel.EXTERNAL_SIDE_EFFECT)),
            scopes=tuple(raw["scopes"]) if "scopes" in raw else None,
            idempotency=str(raw.get("idempotency", Idempotency.UNSAFE.value)),
            timeout_s=float(raw.get("timeout_s", 60.0)),
            tools=dict(raw.get("tools") or {}),
            include=tuple(raw["include"]) if "include" in raw else None,
        )
        RiskLevel(config.risk_level)
        Idempotency(config.idempotency)
        return config

    def transport(self) -> Any:
        """What :class:`mcp.Client` connects to."""
        if self.command:
            return StdioServerParameters(
                command=self.command, args=list(self.args), env=self.env, cwd=self.cwd
            )
        assert self.url is not None
        if self.headers:
            return _http_with_headers(self.url, self.headers)
        return self.url


@contextlib.asynccontextmanager
async def _http_with_headers(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    """Streamable HTTP with fixed headers (auth); the HTTP client closes with the session."""
    async with (
        create_mcp_http_client(headers=headers) as client,
        streamable_http_client(url, http_client=client) as streams,
    ):
        yield streams


class _Server:
    """One server's session, owned by a task on the hub's loop."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.tools: list[mt.Tool] = []
        self.error: BaseException | None = None
        self.ready = threading.Event()
        # Bound to the hub's loop on first use (asyncio queues bind lazily).
        self.jobs: asyncio.Queue[Job] = asyncio.Queue()
        self.client: Client | None = None

    async def serve(self, stop: asyncio.Event) -> None:
        first = True
        while not stop.is_set():
            # After a failure, reconnect only when someone needs the server again.
            if not first and not await self._job_waiting(stop):
                return
            first = False
            try:
                async with Client(self.config.transport(), mode="auto") as client:
                    self.tools = await _list_all(client)
                    self.client, self.error = client, None
                    self.ready.set()
                    await self._work(client, stop)
                    return
            except Exception as exc:  # the server died or never started: calls fail clearly
                log.warning("MCP server %s: %s", self.config.name, exc)
                self.error, self.client = exc, None
                self.ready.set()
                self._fail_pending(exc)

    async def _job_waiting(self, stop: asyncio.Event) -> bool:
        getting = asyncio.ensure_future(self.jobs.get())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(stopping)
        if getting in done:
            self.jobs.put_nowait(getting.result())
            return True
        await _cancel(getting)
        return False

    async def _work(self, client: Client, stop: asyncio.Event) -> None:
        broken: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
        in_flight: dict[asyncio.Task[None], Future[Any]] = {}

        async def call(name: str, args: dict[str, Any], fut: Future[Any]) -> None:
            if fut.done():  # the caller gave up before we started
                return
            try:
                result = await client.call_tool(name, args, self.config.timeout_s)
            except MCPError as exc:  # the server answered with a protocol error
                _settle(fut, exc)
            except Exception as exc:  # the connection itself failed
                _settle(fut, exc)
                if not broken.done():
                    broken.set_result(exc)
            else:
                _settle(fut, result)

        stopping = asyncio.ensure_future(stop.wait())
        getting: asyncio.Future[Job] | None = None
        try:
            while True:
                getting = asyncio.ensure_future(self.jobs.get())
                waiting: set[asyncio.Future[Any]] = {getting, stopping, broken}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if getting not in done:
                    if broken in done:
                        raise broken.result()
                    return
                job = getting.result()
                task = asyncio.ensure_future(call(*job))
                in_flight[task] = job[2]
                task.add_done_callback(lambda t: in_flight.pop(t, None))
        finally:
            # However the session ends (stop, a broken transport cancelling us), no caller
            # is left waiting for an answer that cannot come.
            closed = ConnectionError(f"MCP session with {self.config.name} closed")
            for task, fut in list(in_flight.items()):
                _settle(fut, closed)
                task.cancel()
            await _cancel(stopping)
            if getting is not None:
                await _cancel(getting)

    def _fail_pending(self, exc: BaseException) -> None:
        while not self.jobs.empty():
            _, _, fut = self.jobs.get_nowait()
            _settle(fut, exc)


async def _cancel(task: asyncio.Future[Any]) -> None:
    """Cancel and wait, so no task outlives the loop (shielded from our own cancellation)."""
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.shield(task)


def _settle(fut: concurrent.futures.Future[Any], value: Any) -> None:
    if fut.done():
        return
    if isinstance(value, BaseException):
        fut.set_exception(value)
    else:
        fut.set_result(value)


async def _list_all(client: Client) -> list[mt.Tool]:
    tools: list[mt.Tool] = []
    cursor: str | None = None
    for _ in range(100):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


class McpHub:
    """Background thread and loop that own every configured server's session."""

    def __init__(self, configs: list[McpServerConfig]) -> None:
        self.servers = {c.name: _Server(c) for c in configs}
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="baton-mcp", daemon=True)
        self._started = threading.Event()

    def start(self, connect_timeout_s: float) -> None:
        """Connect to every server and wait (up to the timeout) for their tool lists."""
        self._thread.start()
        self._started.wait()
        for server in self.servers.values():
            if not server.ready.wait(connect_timeout_s):
                log.warning("MCP server %s: no answer in %.0f s", server.config.name,
                            connect_timeout_s)  # fmt: skip

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve_all())
        finally:
            leftovers = asyncio.all_tasks(self._loop)
            for task in leftovers:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            self._loop.close()

    async def _serve_all(self) -> None:
        self._stop = asyncio.Event()
        self._started.set()
        await asyncio.gather(*(s.serve(self._stop) for s in self.servers.values()))

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> mt.CallToolResult:
        """Call ``tool`` on ``server`` from any event loop."""
        target = self.servers[server]
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if not self._thread.is_alive():
            raise ToolError("upstream_unavailable", f"MCP server {server} is shut down", True)
        self._loop.call_soon_threadsafe(target.jobs.put_nowait, (tool, arguments, fut))
        try:
            return await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            fut.cancel()
            raise

    def close(self, timeout_s: float = 10.0) -> None:
        """End every session (stdio servers' processes end with them) and the thread."""
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout_s)


def _normalise(result: mt.CallToolResult, server: str, tool: str) -> ToolResult:
    texts = [c.text for c in result.content if isinstance(c, mt.TextContent)]
    other = [c.type for c in result.content if not isinstance(c, mt.TextContent)]
    text = "\n".join(texts)
    if result.is_error:
        raise ToolError("mcp_tool_error", f"{server}/{tool}: {text or 'failed'}"[:1000])
    data: dict[str, Any] = {}
    if result.structured_content is not None:
        data["result"] = result.structured_content
    if text:
        data["text"] = text
    if other:
        data["other_content"] = other
    return ToolResult.ok(data, message=text[:200])


def _tool_name(server: str, tool: str) -> str:
    return f"{server}__{NAME_OK.sub('_', tool)}"[:64]


class McpProvider:
    """Registers the tools of configured MCP servers and routes their calls through the hub."""

    def __init__(self, configs: list[McpServerConfig], connect_timeout_s: float = 20.0) -> None:
        self.configs = {c.name: c for c in configs}
        self.hub = McpHub(configs)
        self.connect_timeout_s = connect_timeout_s

    @classmethod
    def from_settings(
        cls, servers: dict[str, dict[str, Any]], connect_timeout_s: float
    ) -> McpProvider:
        """Parse BATON_MCP_SERVERS; a bad entry raises ValueError naming the problem."""
        return cls([McpServerConfig.parse(n, raw) for n, raw in servers.items()], connect_timeout_s)

    def start(self) -> list[ToolSpec]:
        """Connect, list every server's tools and declare them."""
        self.hub.start(self.connect_timeout_s)
        specs: list[ToolSpec] = []
        for name, server in self.hub.servers.items():
            if server.error is not None:
                log.warning("MCP server %s has no tools: %s", name, server.error)
            for tool in server.tools:
                if server.config.include is not None and tool.name not in server.config.include:
                    continue
                specs.append(self._spec(server.config, tool))
        return specs

    def _spec(self, config: McpServerConfig, tool: mt.Tool) -> ToolSpec:
        over = config.tools.get(tool.name, {})
        hub, server_name, tool_name = self.hub, config.name, tool.name

        async def call(arguments: dict[str, Any], _ctx: ToolContext) -> ToolResult:
            try:
                result = await hub.call(server_name, tool_name, arguments)
            except MCPError as exc:
                raise ToolError("mcp_error", f"{server_name}/{tool_name}: {exc}") from exc
            except ToolError:
                raise
            except Exception as exc:
                raise ToolError(
                    "upstream_unavailable", f"MCP server {server_name} failed: {exc}", True
                ) from exc
            return _normalise(result, server_name, tool_name)

        scopes = over.get("scopes", config.scopes)
        timeout = float(over.get("timeout_s", config.timeout_s))
        return ToolSpec(
            name=_tool_name(config.name, tool.name),
            description=str(over.get("description") or tool.description or tool.title or "")[:1000],
            fn=call,
            input_schema=dict(tool.input_schema or {"type": "object"}),
            risk_level=RiskLevel(int(over.get("risk_level", config.risk_level))),
            scopes=tuple(scopes) if scopes is not None else (f"mcp:{config.name}",),
            timeout_s=timeout + 5,
            idempotency=Idempotency(over.get("idempotency", config.idempotency)),
            source=f"mcp:{config.name}",
        )

    def close(self) -> None:
        """Close every session."""
        with contextlib.suppress(Exception):
            self.hub.close()
