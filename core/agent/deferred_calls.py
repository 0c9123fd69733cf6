"""A tool call the gate let wait (rate limit, paused tool): kept as a checkpoint's pending
action and proposed again, exactly as it was, once the wait is over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.ids import hash_json

# The pending action of a checkpoint whose tool call waits for the gate.
DEFERRED_CALL = "deferred_tool_call"


def deferred_call_id(run_id: str, tool: str, arguments: dict[str, Any]) -> str:
    """The name under which the gate keeps a deferred call's place in line."""
    return f"{run_id}:{tool}:{hash_json(arguments)[:16]}"


def is_deferred(pending: dict[str, Any]) -> bool:
    """Whether a checkpoint's pending action is a call waiting for the gate."""
    return pending.get("type") == DEFERRED_CALL


@dataclass(frozen=True)
class DeferredCall:
    """A tool call that waits for the gate to let it through, with the times it already
    waited."""

    tool: str
    arguments: dict[str, Any]
    reason: str | None
    approval_id: str | None
    deferrals: int

    def as_pending(self) -> dict[str, Any]:
        """The checkpoint's pending action."""
        return {
            "type": DEFERRED_CALL,
            "tool": self.tool,
            "arguments": self.arguments,
            "reason": self.reason,
            "approval_id": self.approval_id,
            "deferrals": self.deferrals,
        }

    @classmethod
    def from_pending(cls, pending: dict[str, Any]) -> DeferredCall:
        """Read back what :meth:`as_pending` wrote."""
        return cls(
            tool=str(pending["tool"]),
            arguments=dict(pending["arguments"]),
            reason=pending.get("reason"),
            approval_id=pending.get("approval_id"),
            deferrals=int(pending.get("deferrals", 0)),
        )
