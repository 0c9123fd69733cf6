"""Rate limits and circuit breakers: the gate's protection of tools and of their upstreams.

Both are per process (a worker or an API process): a token bucket per tool and tenant and a
breaker per tool. The clock is injectable so behaviour over time is tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by (tenant, tool): ``burst`` calls at once, refilled at a steady rate."""

    def __init__(self, per_minute: float = 120.0, burst: int = 30, clock: Clock = time.monotonic):
        self.per_minute = per_minute
        self.burst = burst
        self.clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def take(
        self, tenant_id: str, tool: str, per_minute: float | None = None, burst: int | None = None
    ) -> tuple[bool, float, float]:
        """Take one token. Returns (allowed, tokens left, seconds until the next token)."""
        rate = (per_minute if per_minute is not None else self.per_minute) / 60.0
        capacity = float(burst if burst is not None else self.burst)
        now = self.clock()
        with self._lock:
            b = self._buckets.get((tenant_id, tool))
            if b is None:
                b = self._buckets[(tenant_id, tool)] = _Bucket(capacity, now)
            b.tokens = min(capacity, b.tokens + (now - b.updated) * rate)
            b.updated = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return True, b.tokens, 0.0
            wait = (1.0 - b.tokens) / rate if rate > 0 else float("inf")
            return False, b.tokens, wait


@dataclass
class _Breaker:
    state: str = "closed"  # closed | open | half_open
    failures: int = 0
    opened_at: float = 0.0
    trial_at: float = 0.0
    trial_key: str | None = None


class CircuitBreakers:
    """One breaker per tool.

    ``failures`` consecutive infrastructure failures open it; while open every call is refused
    at once. After ``cooldown_s`` one trial call is let through (half-open): its success closes
    the breaker, its failure opens it for another cool-down. A trial that never reports back
    (its worker died) frees the slot after another cool-down.
    """

    def __init__(self, failures: int = 5, cooldown_s: float = 30.0, clock: Clock = time.monotonic):
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._breakers: dict[str, _Breaker] = {}
        self._lock = threading.Lock()

    def state(self, tool: str) -> str:
        """The breaker's current state, for audit."""
        with self._lock:
            return self._breakers.get(tool, _Breaker()).state

    def peek(self, tool: str) -> tuple[bool, str]:
        """Whether ``tool`` would take a call now, without using up a half-open trial."""
        now = self.clock()
        with self._lock:
            b = self._breakers.get(tool, _Breaker())
            blocked = b.state == "open" and b.opened_at + self.cooldown_s > now
            return not blocked, b.state

    def allow(self, tool: str, call_key: str | None = None) -> tuple[bool, str, float]:
        """Whether a call may go to ``tool`` now: (allowed, state, seconds until a trial).

        ``call_key`` identifies the call, so that judging the same call again (a step retrying
        its transaction) finds the trial it was already given rather than a busy breaker.
        """
        now = self.clock()
        with self._lock:
            b = self._breakers.setdefault(tool, _Breaker())
            if b.state == "closed":
                return True, "closed", 0.0
            if b.state == "open":
                left = b.opened_at + self.cooldown_s - now
                if left > 0:
                    return False, "open", left
                b.state, b.trial_at, b.trial_key = "half_open", now, call_key
                return True, "half_open", 0.0
            # half_open: one trial at a time
            if call_key is not None and call_key == b.trial_key:
                return True, "half_open", 0.0
            left = b.trial_at + self.cooldown_s - now
            if left > 0:
                return False, "half_open", left
            b.trial_at, b.trial_key = now, call_key
            return True, "half_open", 0.0

    def record(self, tool: str, infra_failure: bool) -> str:
        """Report the outcome of a call; returns the breaker's new state."""
        now = self.clock()
        with self._lock:
            b = self._breakers.setdefault(tool, _Breaker())
            if not infra_failure:
                b.state, b.failures = "closed", 0
                return b.state
            b.failures += 1
            if b.state == "half_open" or b.failures >= self.threshold:
                b.state, b.opened_at = "open", now
            return b.state


class Guards:
    """The per-process protection state the gate consults (shared by every gate on a registry)."""

    def __init__(
        self,
        rate_per_minute: float = 120.0,
        rate_burst: int = 30,
        breaker_failures: int = 5,
        breaker_cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rate = RateLimiter(rate_per_minute, rate_burst, clock)
        self.breakers = CircuitBreakers(breaker_failures, breaker_cooldown_s, clock)
