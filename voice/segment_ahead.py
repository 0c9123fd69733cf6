"""Transcribe a speech segment while the VAD is still deciding that it ended.

The VAD ends a segment only after ``stop_secs`` of silence (0.2 s), and Whisper starts on it
only then: on two cores the caller waited for both, one after the other. Here the segment's
decode starts as soon as the VAD has heard a few windows of silence, and the VAD's wait
runs alongside it. When the segment then ends without the caller going on, that decode is
the segment's transcript; when speech resumes first, it is cancelled and forgotten, and the
longer segment is decoded as usual. The words Whisper reads from the segment cannot depend
on the last fifth of a second of silence, which the early decode does not see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# Silero reads 32 ms windows at 16 kHz. One quiet window inside a word is common (a stop
# consonant); two in a row are mostly a real pause, so a decode that would be thrown away
# (and hold the inference queue meanwhile) is rarely started.
QUIET_WINDOWS = 2


class SegmentAhead(Generic[T]):
    """At most one early decode of the open segment, tied to the state it was started in."""

    def __init__(self) -> None:
        self._task: asyncio.Task[T] | None = None
        self._key: object = None
        self.used = 0
        """Segments whose transcript came from an early decode."""
        self.dropped = 0
        """Early decodes thrown away because the caller went on."""

    @property
    def running(self) -> bool:
        """Whether an early decode is under way (or done and not yet taken)."""
        return self._task is not None

    def start(self, key: object, decode: Callable[[], Awaitable[T]]) -> None:
        """Start decoding early; ``key`` names what the decode depends on besides the audio
        (the turn's earlier segments), so a changed context cannot reuse it."""
        if self._task is not None:
            return
        self._key = key
        self._task = asyncio.ensure_future(decode())

    def drop(self) -> None:
        """Speech resumed: the segment goes on, so its early decode is of no use."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            self.dropped += 1

    async def take(self, key: object) -> T | None:
        """The early decode's result when one was started with ``key`` and succeeded, else
        None (the caller decodes the segment itself)."""
        task, self._task = self._task, None
        if task is None:
            return None
        if key != self._key:
            task.cancel()
            self.dropped += 1
            return None
        try:
            value = await task
        except Exception:
            return None
        self.used += 1
        return value
