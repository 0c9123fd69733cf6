"""The state a step works on: the conversation so far, folded from checkpoint and inbox."""

from __future__ import annotations

import json
from typing import Any

from core.runs.events import EventType

# Events after the latest checkpoint that the next step must fold into its state. A decision
# recorded without a checkpoint is the tool call a dead worker left in progress.
INBOX_TYPES = [
    t.value
    for t in (
        EventType.USER_MESSAGE_RECEIVED,
        EventType.APPROVAL_GRANTED,
        EventType.APPROVAL_DENIED,
        EventType.DECISION_RECORDED,
    )
]


def initial_state(run: dict[str, Any]) -> dict[str, Any]:
    """The step state of a run that has no checkpoint yet: its goal as the first message."""
    meta = run.get("meta") or {}
    messages: list[dict[str, Any]] = []
    if run.get("parent_run_id"):
        messages.append({"role": "user", "content": str(meta.get("parent_goal", ""))})
        if meta.get("parent_result"):
            messages.append({"role": "assistant", "content": str(meta["parent_result"])})
    messages.append({"role": "user", "content": run["goal"]})
    return {"goal": run["goal"], "messages": messages, "decisions": 0, "event_seq": 0}


def absorb_inbox(state: dict[str, Any], inbox: list[dict[str, Any]]) -> dict[str, Any]:
    """``state`` with the events since its checkpoint (messages, decisions, answers) folded in."""
    for e in inbox:
        data = e["data"] or {}
        if e["type"] == EventType.DECISION_RECORDED:
            state = counted_decision(state)
        elif e["type"] == EventType.USER_MESSAGE_RECEIVED:
            state = add_message(state, "user", data["text"])
        elif e["type"] == EventType.APPROVAL_DENIED:
            denied = {
                "status": "denied",
                "error_type": "denied_by_user",
                "message": f"the person said no to {data.get('tool')}",
            }
            state = add_message(state, "tool", json.dumps(denied), name=str(data.get("tool")))
    return state


def counted_decision(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with one more decision counted."""
    return dict(state, decisions=int(state.get("decisions", 0)) + 1)


def add_message(
    state: dict[str, Any], role: str, content: str, name: str | None = None
) -> dict[str, Any]:
    """``state`` with one more message at the end of its conversation."""
    message: dict[str, Any] = {"role": role, "content": content}
    if name:
        message["name"] = name
    return dict(state, messages=[*state.get("messages", []), message])
