"""The MCP tools: the run API's operations, through the same RunStore calls as the REST routes.

Each tool validates its arguments with a pydantic model, calls :class:`RunStore` scoped to the
caller's tenant and user, and answers with the run as the REST API shows it (:class:`RunOut`).
What the REST API refuses with a 4xx becomes a tool error carrying the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.api.errors import unstorable
from core.api.schemas import RunOut
from core.auth.keys import Identity
from core.errors import BatonError, Conflict
from core.mcp_server.auth import APPROVE_SCOPE, Refused, require_scope
from core.runs.log import RunNotFound
from core.runs.service import RunStore
from core.runs.states import IllegalTransition

CHANNEL = "api"
"""Runs started over MCP answer in the API's response profile (structured, by reference)."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRunArgs(_Args):
    """start_run."""

    goal: str = Field(description="What the person wants done")
    idempotency_key: str | None = Field(
        default=None,
        description="Replaying the same key returns the same run instead of starting another",
    )
    meta: dict[str, Any] | None = Field(default=None, description="Free-form data kept on the run")


class RunArgs(_Args):
    """get_run."""

    run_id: str


class ListRunsArgs(_Args):
    """list_runs."""

    status: str | None = Field(default=None, description="Only runs in this status")
    limit: int = Field(default=50, ge=1, le=500, strict=True)


class MessageArgs(_Args):
    """send_message."""

    run_id: str
    text: str = Field(description="What the person says to the run")


class DenyArgs(_Args):
    """deny."""

    run_id: str
    approval_id: str | None = Field(
        default=None, description="The approval to decide; default: the run's pending one"
    )


class ApproveArgs(DenyArgs):
    """approve."""

    arguments: dict[str, Any] | None = Field(
        default=None, description="Edited arguments (creates a new approval for exactly these)"
    )


class CancelArgs(_Args):
    """cancel."""

    run_id: str
    reason: str = ""


class ResumeArgs(_Args):
    """resume."""

    run_id: str
    message: str | None = Field(default=None, description="Something to say to the run")


@dataclass(frozen=True)
class BatonTool:
    """One MCP tool: its name, its arguments' model, and what it does for a caller."""

    name: str
    description: str
    args: type[_Args]
    call: Callable[[RunStore, Identity, Any], dict[str, Any]]
    read_only: bool = False
    destructive: bool = False


class ToolFailure(Exception):
    """A refusal to report as a tool error (isError) with this text."""


def run_view(store: RunStore, who: Identity, run: dict[str, Any]) -> dict[str, Any]:
    """The run as the REST API shows it, with its pending approval, as JSON data."""
    approval = None
    if run.get("pending_approval_id"):
        approval = store.pending_approval(who.tenant_id, who.user_id, run["run_id"])
    return RunOut.of(run, approval).model_dump(mode="json")


def _start_run(store: RunStore, who: Identity, a: StartRunArgs) -> dict[str, Any]:
    run = store.create_run(
        who.tenant_id,
        who.user_id,
        a.goal,
        channel=CHANNEL,
        idempotency_key=a.idempotency_key,
        meta=a.meta,
    )
    return {**run_view(store, who, run), "replayed": bool(run.get("replayed"))}


def _get_run(store: RunStore, who: Identity, a: RunArgs) -> dict[str, Any]:
    return run_view(store, who, store.get_run(who.tenant_id, who.user_id, a.run_id))


def _list_runs(store: RunStore, who: Identity, a: ListRunsArgs) -> dict[str, Any]:
    rows = store.list_runs(who.tenant_id, who.user_id, a.status, a.limit)
    return {"runs": [RunOut.of(r).model_dump(mode="json") for r in rows]}


def _send_message(store: RunStore, who: Identity, a: MessageArgs) -> dict[str, Any]:
    run = store.post_message(who.tenant_id, who.user_id, a.run_id, a.text, CHANNEL)
    return run_view(store, who, run)


def _decide(store: RunStore, who: Identity, a: DenyArgs, approve: bool) -> dict[str, Any]:
    require_scope(who, APPROVE_SCOPE)
    approval_id = a.approval_id
    if approval_id is None:
        run = store.get_run(who.tenant_id, who.user_id, a.run_id)
        approval_id = run.get("pending_approval_id")
        if not approval_id:
            raise Conflict(f"run {a.run_id} is {run['status']} and waits for no approval")
    run = store.decide_approval(
        who.tenant_id,
        who.user_id,
        a.run_id,
        approval_id,
        approve,
        edited_arguments=a.arguments if isinstance(a, ApproveArgs) else None,
        channel=CHANNEL,
    )
    return run_view(store, who, run)


def _approve(store: RunStore, who: Identity, a: ApproveArgs) -> dict[str, Any]:
    return _decide(store, who, a, True)


def _deny(store: RunStore, who: Identity, a: DenyArgs) -> dict[str, Any]:
    return _decide(store, who, a, False)


def _cancel(store: RunStore, who: Identity, a: CancelArgs) -> dict[str, Any]:
    run = store.cancel(who.tenant_id, who.user_id, a.run_id, a.reason, CHANNEL)
    return run_view(store, who, run)


def _resume(store: RunStore, who: Identity, a: ResumeArgs) -> dict[str, Any]:
    run = store.resume(who.tenant_id, who.user_id, a.run_id, a.message, CHANNEL)
    return run_view(store, who, run)


TOOLS: dict[str, BatonTool] = {
    t.name: t
    for t in (
        BatonTool(
            "start_run",
            "Start a run toward a goal; it is queued and executed by Baton's workers.",
            StartRunArgs,
            _start_run,
        ),
        BatonTool(
            "get_run",
            "A run's status, result and pending approval.",
            RunArgs,
            _get_run,
            read_only=True,
        ),
        BatonTool(
            "list_runs", "Your runs, newest first.", ListRunsArgs, _list_runs, read_only=True
        ),
        BatonTool(
            "send_message",
            "Say something to a run (it becomes a user turn; an idle run answers it).",
            MessageArgs,
            _send_message,
        ),
        BatonTool(
            "approve",
            "Approve the run's pending tool call (needs the approve scope).",
            ApproveArgs,
            _approve,
        ),
        BatonTool(
            "deny",
            "Deny the run's pending tool call (needs the approve scope).",
            DenyArgs,
            _deny,
        ),
        BatonTool(
            "cancel",
            "Cancel a run that has not finished (its pending approvals die with it).",
            CancelArgs,
            _cancel,
            destructive=True,
        ),
        BatonTool(
            "resume",
            "Continue a cancelled or waiting run, optionally with a message.",
            ResumeArgs,
            _resume,
        ),
    )
}


def call_tool(
    store: RunStore, who: Identity, name: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Run one tool for ``who``; :class:`ToolFailure` carries the reason of a refusal."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolFailure(f"unknown tool '{name}'; known: {', '.join(TOOLS)}")
    unfit = unstorable(arguments)
    if unfit is not None:
        raise ToolFailure(unfit)
    try:
        args = tool.args.model_validate(arguments)
    except ValidationError as exc:
        raise ToolFailure(_invalid(exc)) from None
    try:
        return tool.call(store, who, args)
    except BatonError as exc:
        raise ToolFailure(exc.message) from None
    except IllegalTransition as exc:
        raise ToolFailure(str(exc)) from None
    except RunNotFound as exc:
        raise ToolFailure(f"no run '{exc}'") from None
    except Refused as exc:
        raise ToolFailure(str(exc)) from None


def _invalid(exc: ValidationError) -> str:
    return "invalid arguments: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
    )
