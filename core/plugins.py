"""Surfaces plug into the core here, so the core never imports them.

A plugin is any object exposing some of ``setup_app(app)``, ``setup_cli(typer_app)`` and
``setup_process()`` (called once in every process that runs steps or serves: register event
hooks, tool providers, agents). Plugins are found through the ``baton.plugins`` entry-point
group (``voice`` and ``handoff`` declare themselves in pyproject.toml) and filtered by
BATON_PLUGINS.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from core.config import get_settings

log = logging.getLogger(__name__)
_loaded: list[tuple[str, Any]] | None = None
_process_ready = False


def load_plugins() -> list[tuple[str, Any]]:
    """The enabled plugins as (name, object), loaded once per process."""
    global _loaded
    if _loaded is None:
        wanted = {p.strip() for p in get_settings().plugins.split(",") if p.strip()}
        found: list[tuple[str, Any]] = []
        for ep in sorted(entry_points(group="baton.plugins"), key=lambda e: e.name):
            if "*" in wanted or ep.name in wanted:
                found.append((ep.name, ep.load()))
        _loaded = found
    return _loaded


def setup_process() -> None:
    """Give each plugin its once-per-process set-up (idempotent)."""
    global _process_ready
    if _process_ready:
        return
    _process_ready = True
    for name, plugin in load_plugins():
        hook = getattr(plugin, "setup_process", None)
        if hook is not None:
            log.debug("plugin %s: setup_process", name)
            hook()


def setup_app(app: Any) -> None:
    """Let each plugin add routers, pages and lifespan work to the FastAPI app."""
    for _name, plugin in load_plugins():
        hook = getattr(plugin, "setup_app", None)
        if hook is not None:
            hook(app)


def setup_cli(typer_app: Any) -> None:
    """Let each plugin add commands to the ``baton`` CLI."""
    for _name, plugin in load_plugins():
        hook = getattr(plugin, "setup_cli", None)
        if hook is not None:
            hook(typer_app)
