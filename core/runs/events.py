"""Every type of event a run's log can hold.

The log is the system of record and the ``runs`` row is a fold of it, so the set of types is
closed: :meth:`core.runs.log.RunWriter.emit` refuses a type that is not listed here, and the
projection (:mod:`core.runs.projection`) says explicitly what each one does to the view.
Surfaces (voice, handoff) append their own types through the same writer; they are listed
here too, by name only.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """The type of one run event."""

    # lifecycle
    RUN_CREATED = "RunCreated"
    RUN_QUEUED = "RunQueued"
    RUN_RESUMED = "RunResumed"
    RUN_COMPLETED = "RunCompleted"
    RUN_FAILED = "RunFailed"
    RUN_CANCELLED = "RunCancelled"
    RUN_META_CHANGED = "RunMetaChanged"
    LEASE_TAKEN_OVER = "LeaseTakenOver"
    # the step
    STEP_STARTED = "StepStarted"
    MODEL_CALLED = "ModelCalled"
    DECISION_RECORDED = "DecisionRecorded"
    CHECKPOINT_WRITTEN = "CheckpointWritten"
    # tools
    TOOL_CALL_PROPOSED = "ToolCallProposed"
    TOOL_CALL_DENIED = "ToolCallDenied"
    TOOL_CALL_DEFERRED = "ToolCallDeferred"
    TOOL_CALL_STARTED = "ToolCallStarted"
    TOOL_CALL_SUCCEEDED = "ToolCallSucceeded"
    TOOL_CALL_FAILED = "ToolCallFailed"
    TOOL_CALL_REPLAYED = "ToolCallReplayed"
    SKILL_ACTIVATED = "SkillActivated"
    # people
    APPROVAL_REQUESTED = "ApprovalRequested"
    APPROVAL_GRANTED = "ApprovalGranted"
    APPROVAL_DENIED = "ApprovalDenied"
    APPROVAL_SUPERSEDED = "ApprovalSuperseded"
    HUMAN_INPUT_REQUESTED = "HumanInputRequested"
    USER_MESSAGE_RECEIVED = "UserMessageReceived"
    # memory
    MEMORY_WRITE_PROPOSED = "MemoryWriteProposed"
    MEMORY_CONFIRMATION_REQUESTED = "MemoryConfirmationRequested"
    MEMORY_STORED = "MemoryStored"
    # artifacts and surfaces
    ARTIFACT_CREATED = "ArtifactCreated"
    HANDOFF_REQUESTED = "HandoffRequested"


class UnknownEventType(ValueError):
    """An event type that is not in :class:`EventType`; nothing is written."""

    def __init__(self, event_type: object) -> None:
        super().__init__(
            f"unknown run event type {event_type!r}: every type must be listed in "
            "core.runs.events.EventType and handled by core.runs.projection"
        )
        self.event_type = event_type


def event_type(value: str) -> EventType:
    """``value`` as an :class:`EventType`; raises UnknownEventType for anything else."""
    try:
        return EventType(value)
    except ValueError:
        raise UnknownEventType(value) from None
