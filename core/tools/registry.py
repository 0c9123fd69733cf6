"""The registry of declared tools, per process."""

from __future__ import annotations

from collections.abc import Iterable

from core.tools.spec import ToolSpec


class UnknownTool(KeyError):
    """No tool by that name is registered."""


class ToolRegistry:
    """Declared tools by name. Providers (built-ins, MCP, skills) add to it at start-up."""

    def __init__(self, tools: Iterable[ToolSpec] = ()) -> None:
        self._tools: dict[str, ToolSpec] = {}
        for spec in tools:
            self.register(spec)

    def register(self, spec: ToolSpec) -> None:
        """Add or replace a tool declaration."""
        self._tools[spec.name] = spec

    def unregister(self, name: str) -> None:
        """Remove a tool, if present."""
        self._tools.pop(name, None)

    def get(self, name: str) -> ToolSpec:
        """The declaration of ``name``; raises UnknownTool."""
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownTool(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def all(self) -> list[ToolSpec]:
        """Every declaration, sorted by name."""
        return [self._tools[k] for k in sorted(self._tools)]
