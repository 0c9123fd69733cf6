"""Who is on a call and what it is attached to; the pipeline reads this, the core owns the rest."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from core.ids import new_id

Channel = Literal["browser", "phone"]
CallNotify = Callable[[dict[str, Any]], Awaitable[None]]
"""Receives what a call page shows: ``{"type": "transcript"|"question"|"state", ...}``."""


@dataclass
class CallSession:
    """One call: the caller's identity and the run the call is attached to.

    ``run_id`` starts as the run the caller asked to continue (or None); the bridge sets it
    once the call attaches to a run. Nothing else about the conversation lives here: the
    run core is the record, so a dropped call loses nothing.
    """

    tenant_id: str
    user_id: str
    channel: Channel
    call_id: str = field(default_factory=lambda: new_id("call"))
    caller: str | None = None
    """The caller's phone number (E.164) on phone calls."""
    guest: bool = False
    """An unknown number: scoped to its own guest user and unable to approve by voice."""
    run_id: str | None = None
    notify: CallNotify | None = None
    """Optional sink for transcript lines and the pending question (the browser call page)."""
    ready: Callable[[], Awaitable[None]] | None = None
    """Waits until the caller can hear us (WebRTC drops audio sent before it connects)."""
    meta: dict[str, Any] = field(default_factory=dict)

    async def emit(self, event: dict[str, Any]) -> None:
        """Hand a call-page event to ``notify`` when one is set; a broken sink never ends a call."""
        if self.notify is None:
            return
        try:
            await self.notify(event)
        except Exception:  # the page is a viewer; the call goes on without it
            return
