"""Streamable HTTP at ``/mcp`` on the FastAPI app, behind the API's Bearer keys."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from sqlalchemy import Engine
from starlette.routing import Route

from core.config import Settings
from core.mcp_server.auth import BearerKeyGate, identity_from_http
from core.mcp_server.server import BatonMcp
from core.runs.service import RunStore
from core.runtime import get_runtime

PATH = "/mcp"


def _store() -> RunStore:
    rt = get_runtime()
    return RunStore(rt.engine, rt.settings)


def _engine() -> Engine:
    return get_runtime().engine


def mount_mcp(app: FastAPI, settings: Settings) -> None:
    """Serve MCP at ``/mcp``: sessions start and end with the app's lifespan."""
    manager = StreamableHTTPSessionManager(
        BatonMcp(_store, identity_from_http).server(),
        max_request_body_size=settings.max_request_bytes,
    )
    endpoint = BearerKeyGate(StreamableHTTPASGIApp(manager), _engine)
    app.router.routes.append(Route(PATH, endpoint=endpoint, include_in_schema=False))
    stack = AsyncExitStack()

    async def start(_app: FastAPI) -> None:
        await stack.enter_async_context(manager.run())

    async def stop(_app: FastAPI) -> None:
        await stack.aclose()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
