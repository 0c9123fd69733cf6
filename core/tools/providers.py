"""Assemble the tool registry of a process: built-ins, MCP servers' tools and skills."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import Settings
from core.tools.builtin import builtin_tools
from core.tools.guards import Guards
from core.tools.mcp_connector import McpProvider
from core.tools.policy import ApprovalPolicy
from core.tools.registry import ToolRegistry
from core.tools.skills import SkillCatalog
from core.tools.spec import ToolSpec

log = logging.getLogger(__name__)
ToolProvider = Callable[[Settings], list[ToolSpec]]
_providers: list[ToolProvider] = []


def register_tool_provider(provider: ToolProvider) -> None:
    """Add tools from outside core/tools (a plugin's ``setup_process`` calls this).

    Each provider is asked once per registry build; its tools pass the same gate.
    """
    if provider not in _providers:
        _providers.append(provider)


def skill_roots(settings: Settings) -> list[Path]:
    """The folders named in BATON_SKILLS_DIRS."""
    return [Path(p.strip()).expanduser() for p in settings.skills_dirs.split(",") if p.strip()]


def build_registry(settings: Settings) -> ToolRegistry:
    """The registry, policy and guards for this process (call once; ``close()`` at exit).

    MCP servers are connected here and their tools listed; a server that does not answer
    contributes no tools (and a warning) rather than stopping the process. A malformed
    configuration raises ValueError.
    """
    policy = ApprovalPolicy.from_settings(
        settings.tool_approval_min_level,
        _mapping(settings.tool_approval_policy),
    )
    guards = Guards(
        rate_per_minute=settings.tool_rate_per_minute,
        rate_burst=settings.tool_rate_burst,
        user_rate_per_minute=settings.tool_user_rate_per_minute,
        user_rate_burst=settings.tool_user_rate_burst,
        breaker_failures=settings.tool_breaker_failures,
        breaker_cooldown_s=settings.tool_breaker_cooldown_seconds,
    )
    registry = ToolRegistry(policy=policy, guards=guards)
    skills = SkillCatalog.load(skill_roots(settings))
    for spec in [*builtin_tools(settings, skills.folder), *skills.specs()]:
        registry.register(spec)
    for provider in _providers:
        for spec in provider(settings):
            registry.register(spec)
    if settings.mcp_servers:
        mcp = McpProvider.from_settings(
            _mapping(settings.mcp_servers), settings.mcp_connect_timeout_seconds
        )
        registry.on_close(mcp.close)
        for spec in mcp.start():
            if spec.name in registry:
                log.warning("MCP tool %s hides a tool of the same name; skipped", spec.name)
                continue
            try:
                registry.register(spec)
            except ValueError as exc:  # a server's bad schema costs that tool, not the process
                log.warning("MCP tool skipped: %s", exc)
    return registry


def _mapping(raw: dict[str, dict[str, object]]) -> dict[str, dict[str, Any]]:
    return {str(k): dict(v) for k, v in raw.items()}
