"""One bounded, prioritised queue for the CPU-heavy model work of a process.

On two cores, two Whisper decodes (or a decode beside a memory-embedding batch) at once make
both slower than doing them one after the other, and a caller hears the difference. Every
in-process inference therefore takes a slot here first: slots go to the most urgent waiter
(a call's speech before background work, then first come first served), and at most
``capacity`` run at once. A queue that is already ``max_waiting`` deep refuses background
work (it is retried later) instead of letting it pile up; turn work always queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import threading
from collections.abc import AsyncIterator, Iterator
from enum import IntEnum


class Priority(IntEnum):
    """Who is waiting: lower values are served first."""

    TURN = 0
    """A caller is waiting for this (their turn's transcription, the bot's speech)."""
    BACKGROUND = 1
    """Nobody waits on it right now (memory extraction, embeddings, warm-ups)."""


class Overloaded(Exception):
    """Background work refused: the queue is full of work someone waits for."""


class InferenceQueue:
    """Slots for model work, handed out by priority; usable from threads and from asyncio."""

    def __init__(self, capacity: int = 1, max_waiting: int = 16) -> None:
        self.capacity = max(1, capacity)
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._running = 0
        self._order = itertools.count()
        self._waiting: list[tuple[int, int, _Grant]] = []

    @property
    def waiting(self) -> int:
        """How many callers wait for a slot."""
        with self._lock:
            return len(self._waiting)

    def _enqueue(self, priority: Priority, ready: _Grant) -> None:
        with self._lock:
            if priority > Priority.TURN and len(self._waiting) >= self.max_waiting:
                raise Overloaded(f"{len(self._waiting)} inferences already wait")
            heapq.heappush(self._waiting, (int(priority), next(self._order), ready))
            self._grant()

    def _grant(self) -> None:
        while self._running < self.capacity and self._waiting:
            _, _, ready = heapq.heappop(self._waiting)
            self._running += 1
            ready.grant()

    def _release(self) -> None:
        with self._lock:
            self._running -= 1
            self._grant()

    def _withdraw(self, ready: _Grant) -> None:
        with self._lock:
            for i, entry in enumerate(self._waiting):
                if entry[2] is ready:
                    self._waiting.pop(i)
                    heapq.heapify(self._waiting)
                    return
        # Granted while we gave up: hand the slot on.
        self._release()

    @contextlib.contextmanager
    def slot(self, priority: Priority) -> Iterator[None]:
        """Hold a slot in this thread for the block (blocks until one is free)."""
        ready = _ThreadGrant()
        self._enqueue(priority, ready)
        ready.event.wait()
        try:
            yield
        finally:
            self._release()

    @contextlib.asynccontextmanager
    async def slot_async(self, priority: Priority) -> AsyncIterator[None]:
        """Hold a slot for the block without blocking the event loop while waiting."""
        ready = _TaskGrant(asyncio.get_running_loop())
        self._enqueue(priority, ready)
        try:
            await ready.future
        except asyncio.CancelledError:
            self._withdraw(ready)
            raise
        try:
            yield
        finally:
            self._release()


class _Grant:
    """How a waiter is told its slot is free (from whichever thread releases one)."""

    def grant(self) -> None:
        raise NotImplementedError


class _ThreadGrant(_Grant):
    def __init__(self) -> None:
        self.event = threading.Event()

    def grant(self) -> None:
        self.event.set()


class _TaskGrant(_Grant):
    # No thread waits for an asyncio waiter: the default executor's few threads are needed
    # by the inferences themselves.
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def grant(self) -> None:
        self.loop.call_soon_threadsafe(self._set)

    def _set(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


# Two cores: one inference at a time keeps each one as fast as it can be.
_queue = InferenceQueue(capacity=max(1, (os.cpu_count() or 2) // 2))


def inference_queue() -> InferenceQueue:
    """The process's queue."""
    return _queue
