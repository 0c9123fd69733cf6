"""The run state machine: states and the explicit table of legal transitions."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Every state a run can be in (blueprint 4.2)."""

    CREATED = "created"
    QUEUED = "queued"
    PLANNING = "planning"
    WAITING_FOR_MODEL = "waiting_for_model"
    WAITING_FOR_TOOL = "waiting_for_tool"
    WAITING_FOR_HUMAN = "waiting_for_human"
    RUNNING_TOOL = "running_tool"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


S = RunStatus
TERMINAL: frozenset[RunStatus] = frozenset({S.FAILED, S.CANCELLED, S.COMPLETED})
# States a worker owns while it holds the lease; a run left here by a dead worker is taken over.
IN_FLIGHT: frozenset[RunStatus] = frozenset(
    {S.PLANNING, S.WAITING_FOR_MODEL, S.WAITING_FOR_TOOL, S.RUNNING_TOOL}
)

TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    S.CREATED: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.QUEUED: frozenset({S.PLANNING, S.RUNNING_TOOL, S.CANCELLED, S.FAILED}),
    # An approved call executes straight from planning, without asking the model again.
    S.PLANNING: frozenset({S.WAITING_FOR_MODEL, S.WAITING_FOR_TOOL, S.CANCELLED, S.FAILED}),
    S.WAITING_FOR_MODEL: frozenset(
        {S.WAITING_FOR_TOOL, S.WAITING_FOR_HUMAN, S.QUEUED, S.COMPLETED, S.CANCELLED, S.FAILED}
    ),
    S.WAITING_FOR_TOOL: frozenset(
        {S.RUNNING_TOOL, S.WAITING_FOR_HUMAN, S.QUEUED, S.CANCELLED, S.FAILED}
    ),
    S.RUNNING_TOOL: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.WAITING_FOR_HUMAN: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    # A cancelled run (say, by a hang-up) can be resumed by its owner; a completed one is
    # continued through a follow-up run linked to it instead.
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset({S.QUEUED}),
    S.FAILED: frozenset(),
}


class IllegalTransition(Exception):
    """A transition the table does not allow; nothing is written."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a run in state '{current}' cannot move to '{target}'")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    """Raise IllegalTransition unless ``current -> target`` is in the table."""
    if RunStatus(target) not in TRANSITIONS[RunStatus(current)]:
        raise IllegalTransition(current, target)
