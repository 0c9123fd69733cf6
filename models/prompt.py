"""Turns a context pack into chat messages for one model.

Every model gets the same facts (system text, goal, policy, memories, tools, history) and a
description of the reply format. Small models (``ModelSpec.few_shot``) also get worked
examples as earlier turns; examples for a tool come from its input schema's ``examples``
so they always use real tool names and argument shapes.
"""

from __future__ import annotations

import json
from typing import Any

from models.contract import ContextPack, ToolSchema
from models.decision_schema import allowed_types, labels_for

_FORMATS = {
    "tool_call": '{"type": "tool_call", "tool": "<tool name>", "arguments": {<arguments>}}',
    "respond": '{"type": "respond", "message": "<short answer>"}',
    "ask_human": '{"type": "ask_human", "question": "<one short question>"}',
    "propose_memory": (
        '{"type": "propose_memory", "memory_type": "preference|fact|relationship|procedure|'
        'episode", "content": "<what to remember>"}'
    ),
}

_WHEN = {
    "tool_call": "to act or look something up with one of the tools",
    "respond": "to answer or chat when no tool is needed",
    "ask_human": "when a detail the tool needs is missing",
    "propose_memory": "when the person states a lasting preference or fact about themselves",
}

# Worked examples that need no tool; tool examples come from the tools themselves.
_GENERIC_SHOTS: list[tuple[str, dict[str, Any]]] = [
    (
        "hi, how are you doing today",
        {"type": "respond", "message": "I'm well, thanks. What can I do for you?"},
    ),
    ("what is the capital of France", {"type": "respond", "message": "Paris."}),
]


def _type_of(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = "|".join(str(k) for k in kind)
    if "enum" in prop:
        return "one of " + "/".join(json.dumps(v) for v in prop["enum"])
    text = str(kind or "any")
    if prop.get("format"):
        text += f" ({prop['format']})"
    return text


def describe_tool(tool: ToolSchema) -> str:
    """One line per tool: name, arguments with types, description."""
    schema = tool.input_schema or {}
    props: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    args = []
    for name, prop in props.items():
        mark = "" if name in required else "?"
        desc = (
            f" - {prop['description']}"
            if isinstance(prop, dict) and prop.get("description")
            else ""
        )
        args.append(f"{name}{mark}: {_type_of(prop if isinstance(prop, dict) else {})}{desc}")
    return f"- {tool.name}({'; '.join(args)}): {tool.description}"


def system_text(pack: ContextPack) -> str:
    """The system message: instructions, tools and the reply format.

    It holds nothing specific to the run, so llama.cpp and hosted providers can reuse the
    cached prefix (system text and worked examples) across runs; see :func:`context_message`.
    """
    parts = [pack.system.strip() or "You are Baton, a voice-first assistant."]
    if pack.policy:
        parts.append("Rules:\n" + "\n".join(f"- {p}" for p in pack.policy))
    channel = pack.response_profile.get("channel")
    if channel in ("voice", "phone", "call", "webrtc"):
        parts.append("You are on a voice call: answers are one or two short spoken sentences.")
    kinds = allowed_types(pack.task_type)
    if "tool_call" in kinds and pack.tools:
        parts.append("Tools you may call:\n" + "\n".join(describe_tool(t) for t in pack.tools))
    elif "tool_call" in kinds:
        kinds = tuple(k for k in kinds if k != "tool_call")
    labels = labels_for(pack.task_type, pack.response_profile)
    if labels:
        parts.append(
            "Classify the person's last answer. Reply with exactly this JSON: "
            '{"type": "respond", "message": "<label>"} where <label> is one of '
            + ", ".join(labels)
            + "."
        )
    else:
        formats = "\n".join(f"{_FORMATS[k]}  ({_WHEN[k]})" for k in kinds)
        parts.append("Reply with exactly one JSON object and nothing else, one of:\n" + formats)
    return "\n\n".join(parts)


CONTINUE = "Go on with my request: decide the next step."


def context_message(pack: ContextPack) -> dict[str, str] | None:
    """The run-specific facts (goal, memories) as a system note placed before the history."""
    parts = []
    first_user = next((m.content for m in pack.messages if m.role == "user"), None)
    if pack.messages and first_user != pack.goal:
        parts.append(f"Goal of this run: {pack.goal}")
    if pack.memories:
        lines = [str(m.get("content") or m) for m in pack.memories]
        parts.append("What you know about the user:\n" + "\n".join(f"- {x}" for x in lines))
    if not parts:
        return None
    return {"role": "system", "content": "\n\n".join(parts)}


def _tool_shots(tools: list[ToolSchema]) -> list[tuple[str, dict[str, Any]]]:
    shots = []
    for tool in tools:
        for example in (tool.input_schema or {}).get("x-examples") or []:
            if isinstance(example, dict) and "request" in example and "arguments" in example:
                shots.append(
                    (
                        str(example["request"]),
                        {"type": "tool_call", "tool": tool.name, "arguments": example["arguments"]},
                    )
                )
    return shots


def few_shot_messages(pack: ContextPack) -> list[dict[str, str]]:
    """Worked examples as earlier turns (only the decision types this step allows)."""
    kinds = allowed_types(pack.task_type)
    if labels_for(pack.task_type, pack.response_profile):
        return []
    shots = _tool_shots(pack.tools) if "tool_call" in kinds else []
    if "respond" in kinds:
        shots += _GENERIC_SHOTS
    out: list[dict[str, str]] = []
    for request, answer in shots:
        out.append({"role": "user", "content": request})
        out.append({"role": "assistant", "content": json.dumps(answer)})
    return out


def history_messages(pack: ContextPack) -> list[dict[str, str]]:
    """Run facts and the conversation so far; tool results become user-visible notes."""
    note = context_message(pack)
    out: list[dict[str, str]] = [note] if note else []
    for m in pack.messages:
        if m.role == "tool":
            out.append({"role": "user", "content": f"[result of {m.name or 'tool'}] {m.content}"})
        elif m.role == "system":
            out.append({"role": "system", "content": m.content})
        else:
            out.append({"role": m.role, "content": m.content})
    if not any(m["role"] == "user" for m in out):
        out.append({"role": "user", "content": pack.goal})
    elif out[-1]["role"] == "assistant":
        # A run goes on after its own note (e.g. a memory it proposed). A conversation that
        # ends with the assistant is a prefill to llama.cpp and Anthropic: the answer would
        # have to continue that text, which no structured output can (llama.cpp refuses).
        out.append({"role": "user", "content": CONTINUE})
    return out


def build_messages(pack: ContextPack, *, few_shot: bool) -> list[dict[str, str]]:
    """All messages for one model call about ``pack``."""
    messages = [{"role": "system", "content": system_text(pack)}]
    if few_shot:
        messages += few_shot_messages(pack)
    return messages + history_messages(pack)
