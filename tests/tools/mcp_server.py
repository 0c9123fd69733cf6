"""A tiny MCP server for the connector tests (stdio, or streamable HTTP with --http PORT).

Built with the official SDK's MCPServer (FastMCP in mcp 1.x). Its tools are deliberately
simple: ``add`` reads, ``shout`` returns text, ``record`` writes a line to a file so a test can
see whether it ran at all, ``fail`` reports a tool error.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("baton-test", log_level="WARNING")
LEDGER = Path(sys.argv[sys.argv.index("--ledger") + 1]) if "--ledger" in sys.argv else None


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Return the text in capitals."""
    return text.upper()


@server.tool()
def record(line: str) -> str:
    """Append a line to the server's ledger file (an external side effect)."""
    if LEDGER is None:
        raise ToolError("no ledger configured")
    with LEDGER.open("a") as f:
        f.write(line + "\n")
    return "recorded"


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ToolError(reason)


if __name__ == "__main__":
    if "--http" in sys.argv:
        port = int(sys.argv[sys.argv.index("--http") + 1])
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run("stdio")
