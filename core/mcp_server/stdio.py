"""MCP over stdin/stdout for one API key: ``baton mcp``."""

from __future__ import annotations

from mcp.server.stdio import stdio_server

from core.auth.keys import Identity
from core.mcp_server.auth import fixed_identity
from core.mcp_server.server import BatonMcp
from core.runs.service import RunStore


async def serve_stdio(store: RunStore, who: Identity) -> None:
    """Serve one client on this process's stdin and stdout until it closes them."""
    server = BatonMcp(lambda: store, fixed_identity(who)).server()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
