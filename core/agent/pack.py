"""The plain context pack: conversation so far, allowed tools, run state.

Memory retrieval and budgeted assembly replace this in core/context/ when present; the step
only needs a ContextPack and the references it was built from.
"""

from __future__ import annotations

from typing import Any

from models.contract import ContextPack, Message, ToolSchema

SYSTEM = (
    "You are Baton, a voice-first assistant. Decide the single next action. Use a tool only "
    "when it is needed; ask one short question when information is missing; answer briefly."
)


def plain_pack(
    run: dict[str, Any],
    state: dict[str, Any],
    tools: list[ToolSchema],
    profile: dict[str, Any],
    budget: dict[str, Any],
) -> ContextPack:
    """A context pack from the checkpointed conversation and the tools allowed this step."""
    messages = [Message(**m) for m in state.get("messages", [])]
    return ContextPack(
        tenant_id=run["tenant_id"],
        user_id=run["user_id"],
        run_id=run["run_id"],
        step=int(run["current_step"]),
        system=SYSTEM,
        goal=run["goal"],
        messages=messages,
        tools=tools,
        response_profile=profile,
        run_state={
            "status": run["status"],
            "step": run["current_step"],
            "tool_calls": run["tool_calls"],
            "max_tool_calls": run["max_tool_calls"],
            "decisions": state.get("decisions", 0),
            "meta": run.get("meta") or {},
        },
        budget=budget,
        refs=[f"message:{i}" for i in range(len(messages))],
    )
