"""A deterministic agent for tests, benchmarks and demos without a model.

It follows the run's own script when there is one (``meta["script"]``: a list of decisions,
taken in order, one per decision the run has made), so a script survives worker crashes and
crosses processes. Without a script it answers a tool result with a one-line summary and
anything else by repeating what the person said.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from models.contract import (
    DECISION_ADAPTER,
    AgentResult,
    ContextPack,
    Decision,
    RespondDecision,
)

DecideFn = Callable[[ContextPack], Decision | dict[str, Any]]


class ScriptedAgent:
    """Implements the Agent protocol without a model; ``fn`` overrides the default rules."""

    def __init__(self, fn: DecideFn | None = None) -> None:
        self.fn = fn

    async def decide(self, pack: ContextPack) -> AgentResult:
        """The next decision: from ``fn``, the run's script, or the default rules."""
        raw = self.fn(pack) if self.fn is not None else self._scripted(pack)
        # No model was called, so there is no call to attribute.
        return AgentResult(decision=DECISION_ADAPTER.validate_python(raw), calls=[])

    @staticmethod
    def _scripted(pack: ContextPack) -> Decision | dict[str, Any]:
        script = (pack.run_state.get("meta") or {}).get("script")
        made = int(pack.run_state.get("decisions", 0))
        if isinstance(script, list) and made < len(script):
            return dict(script[made])
        last = pack.messages[-1] if pack.messages else None
        if last is not None and last.role == "tool":
            return RespondDecision(message=_summarise_tool(last.name or "tool", last.content))
        said = last.content if last is not None else pack.goal
        return RespondDecision(message=f"You said: {said}")


def _summarise_tool(name: str, content: str) -> str:
    try:
        result = json.loads(content)
    except ValueError:
        return f"{name}: {content[:200]}"
    if not isinstance(result, dict):
        return f"{name}: {str(result)[:200]}"
    status = result.get("status", "done")
    message = result.get("message") or ""
    return f"{name} {status}. {message}".strip()
