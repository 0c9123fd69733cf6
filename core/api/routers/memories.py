"""/memories: what Baton remembers about the caller — list, search, read, edit, pin, confirm,
delete, and "forget that"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from core.api.deps import IdentityDep, RuntimeDep
from core.memory import controls
from core.memory.retrieval import search

router = APIRouter(prefix="/memories", tags=["memories"])
MemoryType = Literal["preference", "fact", "relationship", "procedure", "episode"]


class MemoryOut(BaseModel):
    """A memory as its owner sees it, with where it came from."""

    memory_id: str
    tenant_id: str
    user_id: str
    scope: str
    scope_ref: str
    subject: str
    type: str
    content: str
    source_run_id: str
    source_message: str
    sources: list[dict[str, Any]] = Field(default_factory=list)
    confidence: float
    importance: float
    status: str
    visibility: str
    pinned: bool
    supersedes: str | None = None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    editable: bool = True
    relevance: float | None = None
    score: float | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> MemoryOut:
        """From a row returned by core.memory."""
        data = {k: v for k, v in row.items() if k in cls.model_fields}
        data["sources"] = data.get("sources") or []
        return cls(**data)


class MemoryEdit(BaseModel):
    """A correction: any of content, subject, type, expiry."""

    model_config = ConfigDict(extra="forbid")

    content: str | None = Field(default=None, min_length=1, max_length=4000)
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    type: MemoryType | None = None
    expires_at: datetime | None = None
    clear_expiry: bool = False


class PinIn(BaseModel):
    """Pin or unpin."""

    model_config = ConfigDict(extra="forbid")

    pinned: bool = True


class ConfirmIn(BaseModel):
    """The person's answer to a memory waiting for confirmation."""

    model_config = ConfigDict(extra="forbid")

    accept: bool


class ForgetIn(BaseModel):
    """Which run's last used memory to forget."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1, max_length=40)


class Deleted(BaseModel):
    """A deletion receipt."""

    memory_id: str | None
    deleted: bool
    content: str | None = None


@router.get("", response_model=list[MemoryOut])
def list_memories(
    who: IdentityDep,
    rt: RuntimeDep,
    status: Literal["active", "pending"] | None = None,
    type: MemoryType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # PostgreSQL binds it as INTEGER
) -> list[MemoryOut]:
    """Your memories and the shared ones you can read; pinned first, then newest."""
    rows = controls.list_memories(
        rt.engine,
        who.tenant_id,
        who.user_id,
        status=status,
        memory_type=type,
        limit=limit,
        offset=offset,
    )
    return [MemoryOut.of(r) for r in rows]


@router.get("/search", response_model=list[MemoryOut])
def search_memories(
    who: IdentityDep,
    rt: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[MemoryOut]:
    """What the assistant would recall for ``q``, ranked, with relevance and score."""
    return [MemoryOut.of(r) for r in search(rt.engine, who.tenant_id, who.user_id, q, limit)]


@router.post("/forget-last-used", response_model=Deleted)
def forget_last_used(body: ForgetIn, who: IdentityDep, rt: RuntimeDep) -> Deleted:
    """ "Forget that": delete the memory the run used last (``deleted`` false if none)."""
    gone = controls.forget_last_used(rt.engine, who.tenant_id, who.user_id, body.run_id)
    return Deleted(**gone) if gone else Deleted(memory_id=None, deleted=False)


@router.get("/{memory_id}", response_model=MemoryOut)
def get_memory(memory_id: str, who: IdentityDep, rt: RuntimeDep) -> MemoryOut:
    """One memory with its sources."""
    return MemoryOut.of(controls.get_memory(rt.engine, who.tenant_id, who.user_id, memory_id))


@router.patch("/{memory_id}", response_model=MemoryOut)
def edit_memory(memory_id: str, body: MemoryEdit, who: IdentityDep, rt: RuntimeDep) -> MemoryOut:
    """Correct a memory of yours."""
    row = controls.edit_memory(
        rt.engine,
        who.tenant_id,
        who.user_id,
        memory_id,
        content=body.content,
        subject=body.subject,
        memory_type=body.type,
        expires_at=body.expires_at,
        clear_expiry=body.clear_expiry,
    )
    return MemoryOut.of(row)


@router.put("/{memory_id}/pin", response_model=MemoryOut)
def pin_memory(memory_id: str, body: PinIn, who: IdentityDep, rt: RuntimeDep) -> MemoryOut:
    """Pin (ranks higher, never expires) or unpin a memory of yours."""
    row = controls.pin_memory(rt.engine, who.tenant_id, who.user_id, memory_id, body.pinned)
    return MemoryOut.of(row)


@router.post("/{memory_id}/confirm", response_model=Deleted | MemoryOut)
def confirm_memory(
    memory_id: str, body: ConfirmIn, who: IdentityDep, rt: RuntimeDep
) -> Deleted | MemoryOut:
    """Yes: the pending memory becomes active. No: it is deleted."""
    row = controls.confirm_memory(rt.engine, who.tenant_id, who.user_id, memory_id, body.accept)
    if row.get("deleted"):
        return Deleted(memory_id=memory_id, deleted=True)
    return MemoryOut.of(row)


@router.delete("/{memory_id}", response_model=Deleted)
def delete_memory(memory_id: str, who: IdentityDep, rt: RuntimeDep) -> Deleted:
    """Delete a memory of yours for good (row and every index)."""
    return Deleted(**controls.delete_memory(rt.engine, who.tenant_id, who.user_id, memory_id))
