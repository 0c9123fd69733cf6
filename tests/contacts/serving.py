"""The real app served over HTTP in this process, on a free port, wired to a test database."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy import Engine

from core.agent.scripted import ScriptedAgent
from core.api.app import create_app
from core.config import Settings
from core.runtime import Runtime, set_runtime
from tests.core.helpers import gate_with


@contextmanager
def serve(engine: Engine, settings: Settings) -> Iterator[str]:
    """Serve the app (no workers) until the block ends; yields its base URL."""
    gate = gate_with()
    set_runtime(Runtime(settings, engine, lambda: gate, ScriptedAgent))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        set_runtime(None)
