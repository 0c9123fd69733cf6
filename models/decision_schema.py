"""The JSON schema one step may answer with, and the validation of what a model returned.

The contract's :func:`decision_json_schema` admits any tool name and any arguments. For
constrained decoding each step gets a narrower schema: the tool name is fixed per branch and
the arguments follow that tool's input schema, so even a 135M model can only emit a call to
a tool that exists with arguments of the right shape. Validation always re-checks the full
contract, the allowed tool names and the tool's own input schema.
"""

from __future__ import annotations

import copy
import json
from typing import Any, get_args

import jsonschema
from pydantic import ValidationError

from models.contract import (
    DECISION_ADAPTER,
    Decision,
    MemoryType,
    RespondDecision,
    ToolCallDecision,
    ToolSchema,
)

MAX_MESSAGE_CHARS = 300
DEFAULT_LABELS = ("yes", "no", "unclear")

# Decision types each task may answer with (all are members of the contract's union).
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "planning": ("tool_call", "respond", "ask_human", "propose_memory"),
    "decision": ("tool_call", "respond", "ask_human", "propose_memory"),
    "classification": ("respond",),
    "voice_summary": ("respond",),
    "memory_extraction": ("propose_memory", "respond"),
}


class DecisionInvalid(ValueError):
    """A model output that is not an acceptable decision; the message is fed back to it."""


def allowed_types(task_type: str) -> tuple[str, ...]:
    """Decision types a task type may return."""
    return ALLOWED_TYPES.get(task_type, ALLOWED_TYPES["decision"])


def labels_for(task_type: str, response_profile: dict[str, Any]) -> tuple[str, ...] | None:
    """The closed set of answers of a classification step (None for other tasks)."""
    if task_type != "classification":
        return None
    labels = response_profile.get("labels")
    if isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels):
        return tuple(labels)
    return DEFAULT_LABELS


MAX_ARGUMENT_CHARS = 300


def _tighten(node: Any) -> None:
    """Bound strings and close objects, so a small model cannot ramble past max_tokens."""
    if isinstance(node, list):
        for item in node:
            _tighten(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and "enum" not in node and "const" not in node:
        node.setdefault("maxLength", MAX_ARGUMENT_CHARS)
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    for value in node.values():
        _tighten(value)


def _decoding_arguments_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema tightened for decoding (validation uses the original)."""
    out = copy.deepcopy(schema) if schema else {"type": "object"}
    # Worked examples are for the prompt, not for the decoder.
    out.pop("x-examples", None)
    _tighten(out)
    return out


def _string(max_len: int = MAX_MESSAGE_CHARS) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_len}


def _branch(kind: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"type": {"const": kind}, **props},
        "required": ["type", *required],
        "additionalProperties": False,
    }


def step_schema(
    task_type: str,
    tools: list[ToolSchema],
    response_profile: dict[str, Any] | None = None,
    only_types: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The schema a model's answer must match in this step (a subset of the contract)."""
    profile = response_profile or {}
    kinds = only_types or allowed_types(task_type)
    branches: list[dict[str, Any]] = []
    for kind in kinds:
        if kind == "tool_call":
            for tool in tools:
                branches.append(
                    _branch(
                        "tool_call",
                        {
                            "tool": {"const": tool.name},
                            "arguments": _decoding_arguments_schema(tool.input_schema),
                        },
                        ["tool", "arguments"],
                    )
                )
        elif kind == "respond":
            labels = labels_for(task_type, profile)
            message = {"enum": list(labels)} if labels else _string()
            branches.append(_branch("respond", {"message": message}, ["message"]))
        elif kind == "ask_human":
            branches.append(_branch("ask_human", {"question": _string()}, ["question"]))
        elif kind == "propose_memory":
            branches.append(
                _branch(
                    "propose_memory",
                    {
                        "memory_type": {"enum": list(get_args(MemoryType))},
                        "content": _string(400),
                    },
                    ["memory_type", "content"],
                )
            )
    if not branches:
        raise ValueError(f"no decision is possible for task {task_type!r} with these tools")
    return branches[0] if len(branches) == 1 else {"oneOf": branches}


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("function-after",))
    return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))


def _load_json(text: str) -> Any:
    body = (text or "").strip()
    if body.startswith("```"):
        # Hosted models sometimes fence JSON despite being told not to.
        body = body.strip("`").removeprefix("json").strip()
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise DecisionInvalid(f"the reply is not JSON ({exc.msg} at char {exc.pos})") from None


def check_decision(
    raw: Any,
    task_type: str,
    tools: list[ToolSchema],
    response_profile: dict[str, Any] | None = None,
) -> Decision:
    """Validate a decoded decision against the contract, the task and the allowed tools."""
    try:
        decision = DECISION_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise DecisionInvalid(f"the reply is not a valid decision: {_first_error(exc)}") from None
    kinds = allowed_types(task_type)
    if decision.type not in kinds:
        raise DecisionInvalid(
            f"a {task_type} step cannot answer with {decision.type!r}; use one of {list(kinds)}"
        )
    if isinstance(decision, ToolCallDecision):
        by_name = {t.name: t for t in tools}
        tool = by_name.get(decision.tool)
        if tool is None:
            names = ", ".join(sorted(by_name)) or "none"
            raise DecisionInvalid(f"unknown tool {decision.tool!r}; allowed tools: {names}")
        try:
            jsonschema.validate(decision.arguments, tool.input_schema or {"type": "object"})
        except jsonschema.ValidationError as exc:
            path = ".".join(str(p) for p in exc.absolute_path)
            where = f" at {path}" if path else ""
            raise DecisionInvalid(
                f"arguments for {tool.name} are invalid{where}: {exc.message}"
            ) from None
    labels = labels_for(task_type, response_profile or {})
    if labels and isinstance(decision, RespondDecision) and decision.message not in labels:
        raise DecisionInvalid(f"answer with exactly one of {list(labels)}")
    return decision


def parse_decision(
    text: str,
    task_type: str,
    tools: list[ToolSchema],
    response_profile: dict[str, Any] | None = None,
) -> Decision:
    """Validate a model's raw output for one step; raise :class:`DecisionInvalid` if wrong."""
    return check_decision(_load_json(text), task_type, tools, response_profile)
