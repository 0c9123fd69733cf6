"""In-process metrics of the run core: checkpoint write latency and queue delay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import Histogram

from core.ids import utcnow
from core.runs.events import EventType

CHECKPOINT_EVENT = EventType.CHECKPOINT_WRITTEN.value

CHECKPOINT_WRITE = Histogram(
    "baton_checkpoint_write_seconds",
    "Time to write and commit a step's checkpoint with its events",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
QUEUE_DELAY = Histogram(
    "baton_queue_delay_seconds",
    "Time from a run becoming runnable to a worker leasing it",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)


def checkpoint_written(seconds: float) -> None:
    """Record how long a transaction that wrote a checkpoint took, commit included."""
    CHECKPOINT_WRITE.observe(max(0.0, seconds))


def run_claimed(runnable_since: datetime, now: datetime | None = None) -> None:
    """Record the wait of a run a worker just leased, runnable since ``runnable_since``."""
    QUEUE_DELAY.observe(max(0.0, ((now or utcnow()) - runnable_since).total_seconds()))


def step_written(events: list[dict[str, Any]], seconds: float) -> None:
    """Record a step's write if it wrote a checkpoint (``events``: what it appended)."""
    if any(e["type"] == CHECKPOINT_EVENT for e in events):
        checkpoint_written(seconds)
