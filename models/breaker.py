"""A circuit breaker per model, so a provider that keeps failing is skipped quickly.

Closed: calls go through, consecutive failures are counted. After ``failure_threshold``
failures in a row the breaker opens and calls are skipped for ``cooldown_s``. Then it is
half-open: exactly one trial call is let through; success closes it, failure opens it again
for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    """The breaker of one model. Thread-safe; the clock is injectable for tests."""

    failure_threshold: int = 3
    cooldown_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def state(self) -> BreakerState:
        """Current state (an open breaker whose cool-down has passed reads as half-open)."""
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def acquire(self) -> bool:
        """May a call go to this model now? A half-open breaker admits a single trial."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self.trial_in_flight:
                self.trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        """The call answered: close the breaker."""
        with self._lock:
            self.failures = 0
            self.opened_at = None
            self.trial_in_flight = False

    def record_failure(self) -> None:
        """The call failed (provider error or timeout): count it, open when over threshold."""
        with self._lock:
            if self.trial_in_flight or self.opened_at is not None:
                # A failed trial re-opens for a fresh cool-down.
                self.opened_at = self.clock()
                self.trial_in_flight = False
                return
            self.failures += 1
            if self.failures >= self.failure_threshold:
                self.opened_at = self.clock()

    def release(self) -> None:
        """The admitted call ended without telling anything about the model (e.g. cancelled)."""
        with self._lock:
            self.trial_in_flight = False


class BreakerBoard:
    """The breakers of all models of one gateway, created on first use."""

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, model_name: str) -> CircuitBreaker:
        """The breaker of ``model_name``."""
        with self._lock:
            breaker = self._breakers.get(model_name)
            if breaker is None:
                breaker = CircuitBreaker(self.failure_threshold, self.cooldown_s, self.clock)
                self._breakers[model_name] = breaker
            return breaker

    def states(self) -> dict[str, BreakerState]:
        """State of every breaker seen so far."""
        with self._lock:
            items = list(self._breakers.items())
        return {name: b.state for name, b in items}
