"""The registry of declared tools, per process."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import jsonschema

from core.tools.guards import Guards
from core.tools.policy import ApprovalPolicy
from core.tools.spec import ToolSpec


class UnknownTool(KeyError):
    """No tool by that name is registered."""


class ToolRegistry:
    """Declared tools by name. Providers (built-ins, MCP, skills) add to it at start-up.

    The registry also carries the process-wide approval policy and guard state (rate limits,
    circuit breakers), so that every :class:`~core.tools.gate.ToolGate` built on it shares them.
    """

    def __init__(
        self,
        tools: Iterable[ToolSpec] = (),
        policy: ApprovalPolicy | None = None,
        guards: Guards | None = None,
    ) -> None:
        self._tools: dict[str, ToolSpec] = {}
        self.policy = policy or ApprovalPolicy()
        self.guards = guards or Guards()
        self._closers: list[Callable[[], None]] = []
        for spec in tools:
            self.register(spec)

    def register(self, spec: ToolSpec) -> None:
        """Add or replace a tool declaration; ValueError if its schemas are not valid."""
        try:
            _ = spec.input_validator, spec.result_validator
        except jsonschema.SchemaError as exc:
            raise ValueError(f"tool {spec.name}: invalid JSON schema: {exc.message}") from exc
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

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` when the registry is closed (providers that hold connections)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Release what providers hold (MCP sessions and their server processes)."""
        while self._closers:
            self._closers.pop()()
