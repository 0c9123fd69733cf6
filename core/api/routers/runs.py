"""/runs: create, read, follow, message, approve, cancel and resume runs."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from core.api.deps import IdentityDep, StoreDep
from core.api.schemas import (
    ApprovalOut,
    ApproveIn,
    CancelIn,
    EventOut,
    MessageIn,
    ResumeIn,
    RunCreate,
    RunOut,
)
from core.auth.scopes import Scope, require_scope
from core.errors import InvalidInput
from core.runs.service import RunStore
from core.runs.states import TERMINAL

router = APIRouter(prefix="/runs", tags=["runs"])
TERMINAL_VALUES = {s.value for s in TERMINAL}
MAX_SEQ = 2**31 - 1  # seq is a 32-bit INTEGER: PostgreSQL refuses a larger parameter for it
# A quiet stream still notices a client that went away this often.
DISCONNECT_CHECK_SECONDS = 5.0
SEQ = re.compile(r"[0-9]{1,10}")  # ASCII digits only: "²".isdigit() is true, int("²") fails


def _out(store: RunStore, tenant: str, user: str, run: dict[str, Any]) -> RunOut:
    approval = None
    if run.get("pending_approval_id"):
        approval = store.pending_approval(tenant, user, run["run_id"])
    return RunOut.of(run, approval)


@router.post(
    "",
    status_code=201,
    response_model=RunOut,
    responses={200: {"model": RunOut, "description": "A replayed Idempotency-Key: its run"}},
)
def create_run(
    body: RunCreate,
    who: IdentityDep,
    store: StoreDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> RunOut:
    """Create a run and queue it. Replaying the same Idempotency-Key returns the same run
    (200 instead of 201), also when the replays race each other."""
    run = store.create_run(
        who.tenant_id,
        who.user_id,
        body.goal,
        channel=body.channel,
        idempotency_key=idempotency_key,
        parent_run_id=body.parent_run_id,
        meta=body.meta,
        max_steps=body.max_steps,
        max_tool_calls=body.max_tool_calls,
        max_wall_seconds=body.max_wall_seconds,
    )
    if run.get("replayed"):
        response.status_code = 200
    return _out(store, who.tenant_id, who.user_id, run)


@router.get("", response_model=list[RunOut])
def list_runs(
    who: IdentityDep,
    store: StoreDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RunOut]:
    """The caller's runs, newest first."""
    return [RunOut.of(r) for r in store.list_runs(who.tenant_id, who.user_id, status, limit)]


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: str, who: IdentityDep, store: StoreDep) -> RunOut:
    """One run with its status and pending approval."""
    return _out(
        store, who.tenant_id, who.user_id, store.get_run(who.tenant_id, who.user_id, run_id)
    )


@router.post("/{run_id}/cancel", response_model=RunOut)
def cancel_run(
    run_id: str, who: IdentityDep, store: StoreDep, body: CancelIn | None = None
) -> RunOut:
    """Cancel a run that has not finished."""
    run = store.cancel(who.tenant_id, who.user_id, run_id, (body or CancelIn()).reason)
    return _out(store, who.tenant_id, who.user_id, run)


@router.post("/{run_id}/resume", response_model=RunOut)
def resume_run(
    run_id: str, who: IdentityDep, store: StoreDep, body: ResumeIn | None = None
) -> RunOut:
    """Continue a cancelled or waiting run, optionally with a message."""
    run = store.resume(who.tenant_id, who.user_id, run_id, (body or ResumeIn()).message)
    return _out(store, who.tenant_id, who.user_id, run)


@router.post("/{run_id}/messages", response_model=RunOut)
def post_message(run_id: str, body: MessageIn, who: IdentityDep, store: StoreDep) -> RunOut:
    """Send the run a message from the person (it becomes a user turn)."""
    run = store.post_message(who.tenant_id, who.user_id, run_id, body.text)
    return _out(store, who.tenant_id, who.user_id, run)


@router.post("/{run_id}/follow-up", status_code=201, response_model=RunOut)
def follow_up(run_id: str, body: MessageIn, who: IdentityDep, store: StoreDep) -> RunOut:
    """Start a new run linked to a finished one."""
    run = store.follow_up(who.tenant_id, who.user_id, run_id, body.text)
    return _out(store, who.tenant_id, who.user_id, run)


@router.post("/{run_id}/approve", response_model=RunOut)
def approve(run_id: str, body: ApproveIn, who: IdentityDep, store: StoreDep) -> RunOut:
    """Approve or deny the run's pending approval; edited arguments create a new approval."""
    require_scope(who, Scope.APPROVE)
    run = store.decide_approval(
        who.tenant_id,
        who.user_id,
        run_id,
        body.approval_id,
        body.decision == "approve",
        edited_arguments=body.arguments,
    )
    return _out(store, who.tenant_id, who.user_id, run)


@router.get("/{run_id}/approvals", response_model=list[ApprovalOut])
def approvals(run_id: str, who: IdentityDep, store: StoreDep) -> list[ApprovalOut]:
    """Every approval of the run."""
    return [ApprovalOut.of(a) for a in store.approvals(who.tenant_id, who.user_id, run_id)]


@router.get(
    "/{run_id}/events",
    response_model=list[EventOut],
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    run_id: str,
    request: Request,
    who: IdentityDep,
    store: StoreDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    follow: bool = True,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Any:
    """The run's events: server-sent events resumable with Last-Event-ID, or JSON when the
    client accepts only application/json."""
    if last_event_id is not None:
        if not SEQ.fullmatch(last_event_id) or int(last_event_id) > MAX_SEQ:
            raise InvalidInput(f"Last-Event-ID must be an event sequence number (0 to {MAX_SEQ})")
        after = max(after, int(last_event_id))
    rows = await asyncio.to_thread(store.events, who.tenant_id, who.user_id, run_id, after)
    accept = request.headers.get("accept", "")
    if "text/event-stream" not in accept and "application/json" in accept:
        return [EventOut(**r) for r in rows]
    return EventSourceResponse(
        _stream(request, store, who.tenant_id, who.user_id, run_id, rows, follow)
    )


async def _stream(
    request: Request,
    store: RunStore,
    tenant: str,
    user: str,
    run_id: str,
    first: list[dict[str, Any]],
    follow: bool,
) -> AsyncIterator[dict[str, Any]]:
    rows, last = first, 0
    # Subscribed before the next read, so an event committed in between still wakes us.
    with await asyncio.to_thread(store.watch, [run_id]) as changes:
        while True:
            for r in rows:
                last = r["seq"]
                payload = {
                    "seq": r["seq"],
                    "type": r["type"],
                    "data": r["data"],
                    "created_at": r["created_at"].isoformat(),
                }
                yield {
                    "id": str(r["seq"]),
                    "event": r["type"],
                    "data": json.dumps(payload, default=str),
                }
            if not follow or await request.is_disconnected():
                return
            run = await asyncio.to_thread(store.get_run, tenant, user, run_id)
            if run["status"] in TERMINAL_VALUES and run["last_event_seq"] <= last:
                return
            if run["last_event_seq"] <= last:
                await changes.changed(DISCONNECT_CHECK_SECONDS)
            rows = await asyncio.to_thread(store.events, tenant, user, run_id, last)
