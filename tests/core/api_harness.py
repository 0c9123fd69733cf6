"""An in-process API on a test database, with runs executed by the real step code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core.agent.scripted import ScriptedAgent
from core.api.app import create_app
from core.auth.keys import create_key
from core.config import Settings
from core.runtime import Runtime, set_runtime
from core.tools.gate import ToolGate


@contextmanager
def api(engine: Engine, gate: ToolGate, **settings: Any) -> Iterator[TestClient]:
    """A TestClient over the real app wired to ``engine`` (no plugins, no background workers)."""
    s = Settings(plugins="none", agent="scripted", **settings)
    set_runtime(Runtime(s, engine, lambda: gate, ScriptedAgent))
    try:
        with TestClient(create_app(s)) as client:
            yield client
    finally:
        set_runtime(None)


def auth(engine: Engine, tenant: str, user: str) -> dict[str, str]:
    """Headers with a fresh API key of this user."""
    return {"Authorization": f"Bearer {create_key(engine, tenant, user)}"}
