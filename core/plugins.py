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

from core.config import Settings, get_settings

log = logging.getLogger(__name__)
_loaded: dict[str, list[tuple[str, Any]]] = {}
_process_ready: set[str] = set()


def load_plugins(settings: Settings | None = None) -> list[tuple[str, Any]]:
    """The enabled plugins as (name, object), loaded once per process."""
    chosen = (settings or get_settings()).plugins
    if chosen not in _loaded:
        wanted = {p.strip() for p in chosen.split(",") if p.strip()}
        found: list[tuple[str, Any]] = []
        for ep in sorted(entry_points(group="baton.plugins"), key=lambda e: e.name):
            if "*" in wanted or ep.name in wanted:
                found.append((ep.name, ep.load()))
        _loaded[chosen] = found
    return _loaded[chosen]


def setup_process(settings: Settings | None = None) -> None:
    """Give each plugin its once-per-process set-up (idempotent per plugin)."""
    from core.webhooks.outbox import register_outbox

    register_outbox()  # core's own: webhook deliveries are queued with the events
    for name, plugin in load_plugins(settings):
        hook = getattr(plugin, "setup_process", None)
        if hook is not None and name not in _process_ready:
            _process_ready.add(name)
            log.debug("plugin %s: setup_process", name)
            hook()


def setup_app(app: Any, settings: Settings | None = None) -> None:
    """Let each plugin add routers, pages and lifespan work to the FastAPI app."""
    for _name, plugin in load_plugins(settings):
        hook = getattr(plugin, "setup_app", None)
        if hook is not None:
            hook(app)


def setup_cli(typer_app: Any) -> None:
    """Let each plugin add commands to the ``baton`` CLI."""
    for _name, plugin in load_plugins():
        hook = getattr(plugin, "setup_cli", None)
        if hook is not None:
            hook(typer_app)
