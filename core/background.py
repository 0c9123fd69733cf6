"""A loop in a daemon thread that runs until told to stop (outbox senders and the like).

One per kind and process: :class:`BackgroundLoop` starts a loop at most once and stops it, so
every surface that may start a sender (the API server, `baton worker`, `baton mcp`) can ask for
it without starting a second one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Loop = Callable[[threading.Event], None]
"""A function that works until the event is set."""


class BackgroundLoop:
    """At most one running thread of a loop in this process."""

    def __init__(self, name: str, stop_timeout: float) -> None:
        self.name = name
        self.stop_timeout = stop_timeout
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the loop has been started and not stopped."""
        return self._thread is not None

    def start(self, make: Callable[[], Loop | None]) -> bool:
        """Start the loop ``make`` returns, unless one runs; None from ``make`` starts nothing.

        Returns whether a loop runs afterwards.
        """
        with self._lock:
            if self._thread is not None:
                return True
            loop = make()
            if loop is None:
                return False
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=loop, args=(self._stop,), name=self.name, daemon=True
            )
            self._thread.start()
            return True

    def stop(self) -> None:
        """Ask the loop to stop and wait for it (up to ``stop_timeout`` seconds)."""
        with self._lock:
            if self._thread is None or self._stop is None:
                return
            self._stop.set()
            self._thread.join(self.stop_timeout)
            self._thread = self._stop = None
