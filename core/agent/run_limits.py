"""A run's limits on steps, tool calls and wall-clock time, checked where they are spent.

A limit that is reached fails the run with a reason a person can read; nothing else is
written.
"""

from __future__ import annotations

from datetime import datetime

from core.runs.events import EventType
from core.runs.log import RunWriter
from core.runs.states import RunStatus


def start_next_step(w: RunWriter) -> bool:
    """Move a queued run into its next step, or fail it when a limit is reached."""
    if w.status != RunStatus.QUEUED:
        return False
    view = w.view
    step = int(view["current_step"]) + 1
    if step > int(view["max_steps"]):
        w.emit(EventType.RUN_FAILED, {"reason": f"step limit reached ({view['max_steps']} steps)"})
        return False
    if w.now > deadline(w):
        reason = f"wall-clock limit reached ({view['max_wall_seconds']} s)"
        w.emit(EventType.RUN_FAILED, {"reason": reason})
        return False
    w.emit(EventType.STEP_STARTED, {"step": step})
    return True


def tool_call_allowed(w: RunWriter) -> bool:
    """Whether the run may make one more tool call; fails the run when it may not."""
    limit = int(w.view["max_tool_calls"])
    if int(w.view["tool_calls"] or 0) < limit:
        return True
    w.emit(EventType.RUN_FAILED, {"reason": f"tool call limit reached ({limit})"})
    return False


def deadline(w: RunWriter) -> datetime:
    """The moment the run's wall-clock limit runs out, in the writer's time zone."""
    at: datetime = w.view["deadline_at"]
    # SQLite stores timestamps without a zone.
    return at if at.tzinfo is not None else at.replace(tzinfo=w.now.tzinfo)
