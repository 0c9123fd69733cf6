"""Speculative understanding: start reading a turn when the caller pauses, use it only if the
turn really ended there.

When the VAD reports silence and the pause's words are transcribed, the bridge starts
understanding them at once (reading a yes/no answer may ask the model) instead of after the
turn-end wait and the answer grace. The result is tied to the exact words it was computed
for: when the turn ends with those words it is used; when the caller goes on, it is cancelled
and forgotten, and the whole turn is read afresh. A speculation computes; it never writes to
a run, so an abandoned one leaves nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Speculation(Generic[T]):
    """At most one speculative computation, keyed by the words it reads."""

    def __init__(self) -> None:
        self._words: str | None = None
        self._task: asyncio.Task[T] | None = None
        self.used = 0
        """How many turns were answered from a speculation (for the benchmark)."""
        self.abandoned = 0
        """How many speculations were thrown away because the caller went on."""

    @property
    def words(self) -> str | None:
        """The words the current speculation reads, if one runs."""
        return self._words

    def start(self, words: str, compute: Callable[[], Awaitable[T]]) -> None:
        """Start computing for ``words`` (replacing a speculation on other words)."""
        if self._words == words and self._task is not None:
            return
        self.abandon()
        self._words = words

        async def run() -> T:
            return await compute()

        self._task = asyncio.ensure_future(run())

    def abandon(self) -> None:
        """The caller went on: cancel and forget the speculation."""
        task, self._task, self._words = self._task, None, None
        if task is not None:
            if not task.done():
                task.cancel()
            self.abandoned += 1

    async def result(self, words: str, compute: Callable[[], Awaitable[T]]) -> T:
        """The value for the turn's final ``words``: the speculation's when it read exactly
        these words, else a fresh computation."""
        task, speculated = self._task, self._words
        self._task, self._words = None, None
        if task is not None and speculated == words:
            try:
                value = await task
            except Exception:
                pass  # a failed guess is no answer: compute it properly below
            else:
                self.used += 1
                return value
        elif task is not None:
            task.cancel()
            self.abandoned += 1
        return await compute()
