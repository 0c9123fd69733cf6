"""`baton mcp`: Baton as an MCP server on stdin/stdout, for clients that start a command."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import anyio
import typer

from core.cli.client import fail
from core.config import get_settings


def mcp_cmd(
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="The key whose tenant and user the client acts as (default: BATON_API_KEY)",
        ),
    ] = None,
    workers: Annotated[bool, typer.Option(help="Also execute runs in this process")] = True,
) -> None:
    """Serve MCP on stdin/stdout as one API key's user, on the store `baton serve` uses."""
    from core.auth.keys import verify_key
    from core.mcp_server.stdio import serve_stdio
    from core.plugins import setup_process
    from core.runs.service import RunStore
    from core.runtime import get_runtime

    s = get_settings()
    key = api_key or s.api_key
    if not key:
        raise fail("no API key: pass --api-key or set BATON_API_KEY")
    rt = get_runtime(s)  # a bad database or data folder fails here with a message
    who = verify_key(rt.engine, key)
    if who is None:
        raise fail("invalid or revoked API key")
    # stdout carries the protocol: everything else goes to stderr.
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    worker: Any = None
    if workers:
        setup_process(s)
        worker = rt.new_worker()
        worker.start()
    try:
        anyio.run(serve_stdio, RunStore(rt.engine, s), who)
    except KeyboardInterrupt:
        pass
    finally:
        if worker is not None:
            worker.stop()
        rt.close_tools()
