"""The events a webhook can subscribe to, and what each one tells the receiver."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from core.runs.events import EventType


class WebhookEvent(StrEnum):
    """A public event name, as subscribers choose them and receive them in ``type``."""

    RUN_COMPLETED = "run.completed"
    RUN_FAILED = "run.failed"
    RUN_WAITING_FOR_APPROVAL = "run.waiting_for_approval"
    ARTIFACT_CREATED = "artifact.created"


FROM_RUN_EVENT: dict[str, WebhookEvent] = {
    EventType.RUN_COMPLETED.value: WebhookEvent.RUN_COMPLETED,
    EventType.RUN_FAILED.value: WebhookEvent.RUN_FAILED,
    EventType.APPROVAL_REQUESTED.value: WebhookEvent.RUN_WAITING_FOR_APPROVAL,
    EventType.ARTIFACT_CREATED.value: WebhookEvent.ARTIFACT_CREATED,
}

# What of each run event's data a receiver gets (the rest is internal bookkeeping).
_FIELDS: dict[WebhookEvent, tuple[str, ...]] = {
    WebhookEvent.RUN_COMPLETED: ("result",),
    WebhookEvent.RUN_FAILED: ("reason",),
    WebhookEvent.RUN_WAITING_FOR_APPROVAL: (
        "approval_id",
        "tool",
        "arguments",
        "question",
        "risk_level",
    ),
    WebhookEvent.ARTIFACT_CREATED: ("artifact_id", "name", "kind", "content_type", "size_bytes"),
}


def parse_events(names: list[str]) -> list[WebhookEvent]:
    """The named events, each once, in the order given; ValueError names an unknown one."""
    chosen: list[WebhookEvent] = []
    for name in names:
        try:
            event = WebhookEvent(name.strip())
        except ValueError:
            known = ", ".join(e.value for e in WebhookEvent)
            raise ValueError(f"unknown event type {name!r}; choose from {known}") from None
        if event not in chosen:
            chosen.append(event)
    return chosen


def event_data(kind: WebhookEvent, run_event: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` object of a webhook body for one run event."""
    source = run_event.get("data") or {}
    data: dict[str, Any] = {"run_id": run_event["run_id"], "user_id": run_event["user_id"]}
    data.update({k: source[k] for k in _FIELDS[kind] if k in source})
    return data
