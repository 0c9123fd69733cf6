"""An action-first reply format for small models, translated to the contract's decisions.

The contract's shape starts with ``"type": "tool_call"`` and names the tool afterwards, so a
small model must commit to "use a tool" before it has written which one. Here the first
thing written is the action itself, a tool name or ``answer`` / ``ask_user`` / ``remember``,
so the choice is conditioned on the tool names' meaning. The reply is translated to the
contract's decision and validated exactly like any other.
"""

from __future__ import annotations

from typing import Any, get_args

from models.contract import ContextPack, Decision, MemoryType, ToolSchema
from models.decision_schema import (
    DecisionInvalid,
    _decoding_arguments_schema,
    _load_json,
    _string,
    allowed_types,
    check_decision,
    labels_for,
)
from models.prompt import describe_tool, history_messages

ANSWER, ASK, REMEMBER = "answer", "ask_user", "remember"
_KIND = {ANSWER: "respond", ASK: "ask_human", REMEMBER: "propose_memory"}


def available_actions(pack: ContextPack) -> list[str]:
    """Action names this step may take: its tools, then answer / ask_user / remember."""
    kinds = allowed_types(pack.task_type)
    out = [t.name for t in pack.tools] if "tool_call" in kinds else []
    out += [a for a, kind in _KIND.items() if kind in kinds]
    return out


def _branch(action: str, pack: ContextPack, tools: dict[str, ToolSchema]) -> dict[str, Any]:
    props: dict[str, Any] = {"action": {"const": action}}
    if action in tools:
        props["arguments"] = _decoding_arguments_schema(tools[action].input_schema)
    elif action == ANSWER:
        labels = labels_for(pack.task_type, pack.response_profile)
        props["message"] = {"enum": list(labels)} if labels else _string()
    elif action == ASK:
        props["question"] = _string()
    else:
        props["memory_type"] = {"enum": list(get_args(MemoryType))}
        props["content"] = _string(400)
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def action_schema(pack: ContextPack, only: list[str] | None = None) -> dict[str, Any]:
    """Schema of an action-first reply (one branch per action, or per action in ``only``)."""
    tools = {t.name: t for t in pack.tools}
    actions = only or available_actions(pack)
    branches = [_branch(a, pack, tools) for a in actions]
    return branches[0] if len(branches) == 1 else {"oneOf": branches}


def narrowed(pack: ContextPack, chosen: str, *, may_ask: bool) -> list[str]:
    """The actions left once ``chosen`` is picked; with ``may_ask`` a tool may still turn
    into a question when a detail it needs is missing."""
    tools = {t.name for t in pack.tools}
    if may_ask and chosen in tools and ASK in available_actions(pack):
        return [chosen, ASK]
    return [chosen]


def choice_schema(pack: ContextPack) -> dict[str, Any]:
    """Schema of a bare action choice (the first stage of two-stage decoding)."""
    return {
        "type": "object",
        "properties": {"action": {"enum": available_actions(pack)}},
        "required": ["action"],
        "additionalProperties": False,
    }


def _format_lines(pack: ContextPack) -> str:
    lines = []
    if "tool_call" in allowed_types(pack.task_type) and pack.tools:
        lines.append('{"action": "<tool name>", "arguments": {...}} to use a tool')
    if "respond" in allowed_types(pack.task_type):
        lines.append('{"action": "answer", "message": "..."} to reply directly when no tool fits')
    if "ask_human" in allowed_types(pack.task_type):
        lines.append('{"action": "ask_user", "question": "..."} when a needed detail is missing')
    if "propose_memory" in allowed_types(pack.task_type):
        lines.append(
            '{"action": "remember", "memory_type": "preference|fact|relationship|procedure|'
            'episode", "content": "..."} when the person tells a lasting fact about themselves'
        )
    return "\n".join(lines)


def action_system(pack: ContextPack, *, choose_only: bool = False) -> str:
    """System text for action-first replies (or for only choosing the action)."""
    parts = [pack.system.strip() or "You are Baton, a voice-first assistant."]
    if pack.policy:
        parts.append("Rules:\n" + "\n".join(f"- {p}" for p in pack.policy))
    if "tool_call" in allowed_types(pack.task_type) and pack.tools:
        parts.append("Tools:\n" + "\n".join(describe_tool(t) for t in pack.tools))
    if choose_only:
        parts.append(
            'Pick the action for the user\'s last message. Reply {"action": "<name>"} where '
            "<name> is a tool name, or answer (reply directly), ask_user (a needed detail is "
            "missing) or remember (a lasting fact about the person)."
        )
    else:
        parts.append("Reply with one JSON object:\n" + _format_lines(pack))
    return "\n\n".join(parts)


def _tool_shots(pack: ContextPack) -> list[tuple[str, dict[str, Any]]]:
    shots: list[tuple[str, dict[str, Any]]] = []
    if "tool_call" not in allowed_types(pack.task_type):
        return shots
    for tool in pack.tools:
        for example in (tool.input_schema or {}).get("x-examples") or []:
            if isinstance(example, dict) and "request" in example and "arguments" in example:
                shots.append(
                    (
                        str(example["request"]),
                        {"action": tool.name, "arguments": example["arguments"]},
                    )
                )
    return shots


_GENERIC_SHOTS: list[tuple[str, dict[str, Any]]] = [
    ("what is the capital of Italy", {"action": ANSWER, "message": "Rome."}),
    ("hi there", {"action": ANSWER, "message": "Hello! What can I do for you?"}),
]


def action_messages(
    pack: ContextPack, *, few_shot: bool, choose_only: bool = False
) -> list[dict[str, str]]:
    """Messages asking for an action-first reply (or only the action's name)."""
    import json

    messages = [{"role": "system", "content": action_system(pack, choose_only=choose_only)}]
    if few_shot and not labels_for(pack.task_type, pack.response_profile):
        shots = _tool_shots(pack)
        if "respond" in allowed_types(pack.task_type):
            shots += _GENERIC_SHOTS
        for request, answer in shots:
            shown = {"action": answer["action"]} if choose_only else answer
            messages.append({"role": "user", "content": request})
            messages.append({"role": "assistant", "content": json.dumps(shown)})
    return messages + history_messages(pack)


def to_decision(raw: Any, pack: ContextPack) -> Decision:
    """Translate an action-first reply to a contract decision and validate it."""
    if not isinstance(raw, dict) or not isinstance(raw.get("action"), str):
        raise DecisionInvalid('the reply must be a JSON object with an "action" string')
    action = raw["action"]
    body: dict[str, Any]
    if action == ANSWER:
        body = {"type": "respond", "message": raw.get("message")}
    elif action == ASK:
        body = {"type": "ask_human", "question": raw.get("question")}
    elif action == REMEMBER:
        body = {
            "type": "propose_memory",
            "memory_type": raw.get("memory_type"),
            "content": raw.get("content"),
        }
    else:
        body = {"type": "tool_call", "tool": action, "arguments": raw.get("arguments") or {}}
    return check_decision(body, pack.task_type, pack.tools, pack.response_profile)


def parse_action(text: str, pack: ContextPack) -> Decision:
    """Parse and validate an action-first reply."""
    return to_decision(_load_json(text), pack)


def parse_choice(text: str, pack: ContextPack) -> str:
    """Parse the first stage of two-stage decoding: the chosen action's name."""
    raw = _load_json(text)
    action = raw.get("action") if isinstance(raw, dict) else None
    if action not in available_actions(pack):
        raise DecisionInvalid(f"choose one of {available_actions(pack)}")
    return str(action)
