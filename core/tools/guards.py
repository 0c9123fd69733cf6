"""Rate limits and circuit breakers: the gate's protection of tools and of their upstreams.

Both are per process (a worker or an API process): token buckets per tool and tenant and per
tool and user, and a breaker per tool. The clock is injectable so behaviour over time is
tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class Limit:
    """A token bucket's shape: ``burst`` calls at once, refilled at ``per_minute``."""

    per_minute: float
    burst: int


@dataclass(frozen=True)
class RateDecision:
    """The outcome of taking a token: allowed now, or the seconds until the call may go."""

    allowed: bool
    tokens_left: float
    wait_s: float = 0.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class _Reservation:
    ready: float
    expires: float


# A call that comes back this much before its reservation is ready still takes it: the step's
# wall clock and this process's monotonic clock do not tick in lockstep.
EARLY_TOLERANCE_S = 0.05
# A reservation whose caller has not come back this long after it was ready is given up.
RESERVATION_GRACE_S = 120.0


class RateLimiter:
    """Token buckets per (tenant, tool) and per (tenant, user, tool); a call needs a token
    from both, so one busy user cannot use up the tenant's calls and a tenant with many
    users is limited as a whole.

    A caller that will come back (the step defers a refused call and retries it) names its
    call with ``reservation``: a refused call then reserves its tokens, and is told the wait
    until they are its own. Waiting calls are served in order rather than racing for each new
    token, so the wait a refusal names is the wait the call really has.
    """

    def __init__(
        self,
        per_minute: float = 1200.0,
        burst: int = 300,
        clock: Clock = time.monotonic,
        user_per_minute: float = 120.0,
        user_burst: int = 30,
    ):
        self.tenant_limit = Limit(per_minute, burst)
        self.user_limit = Limit(user_per_minute, user_burst)
        self.clock = clock
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._reserved: dict[str, _Reservation] = {}
        self._lock = threading.Lock()

    def take(
        self,
        tenant_id: str,
        user_id: str,
        tool: str,
        tenant_limit: Limit | None = None,
        user_limit: Limit | None = None,
        reservation: str | None = None,
    ) -> RateDecision:
        """Take one token from the tenant's and the user's bucket for ``tool``."""
        limits = [
            ((tenant_id, tool), tenant_limit or self.tenant_limit),
            ((tenant_id, user_id, tool), user_limit or self.user_limit),
        ]
        now = self.clock()
        with self._lock:
            buckets = [(self._refilled(key, limit, now), limit) for key, limit in limits]
            left = min(b.tokens for b, _ in buckets)
            held = self._reserved.get(reservation or "")
            if reservation is not None and held is not None:
                if now + EARLY_TOLERANCE_S >= held.ready:
                    del self._reserved[reservation]
                    return RateDecision(True, max(0.0, left))
                return RateDecision(False, left, held.ready - now)
            if all(b.tokens >= 1.0 for b, _ in buckets):
                for b, _ in buckets:
                    b.tokens -= 1.0
                return RateDecision(True, left - 1.0)
            wait = max(_wait(b.tokens, limit) for b, limit in buckets)
            if reservation is not None and wait != float("inf"):
                for b, _ in buckets:
                    b.tokens -= 1.0
                self._forget_stale(now)
                self._reserved[reservation] = _Reservation(
                    now + wait, now + wait + RESERVATION_GRACE_S
                )
            return RateDecision(False, left, wait)

    def _refilled(self, key: tuple[str, ...], limit: Limit, now: float) -> _Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(float(limit.burst), now)
        b.tokens = min(float(limit.burst), b.tokens + (now - b.updated) * limit.per_minute / 60)
        b.updated = now
        return b

    def _forget_stale(self, now: float) -> None:
        for key in [k for k, r in self._reserved.items() if r.expires < now]:
            del self._reserved[key]


def _wait(tokens: float, limit: Limit) -> float:
    """Seconds until a bucket holding ``tokens`` has a whole token."""
    if tokens >= 1.0:
        return 0.0
    rate = limit.per_minute / 60
    return (1.0 - tokens) / rate if rate > 0 else float("inf")


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

    def peek(self, tool: str) -> tuple[bool, str, float]:
        """Whether ``tool`` would take a call now, without using up a half-open trial:
        (allowed, state, seconds until a trial)."""
        now = self.clock()
        with self._lock:
            b = self._breakers.get(tool, _Breaker())
            left = b.opened_at + self.cooldown_s - now if b.state == "open" else 0.0
            return left <= 0, b.state, max(0.0, left)

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
        rate_per_minute: float = 1200.0,
        rate_burst: int = 300,
        breaker_failures: int = 5,
        breaker_cooldown_s: float = 30.0,
        clock: Clock = time.monotonic,
        user_rate_per_minute: float = 120.0,
        user_rate_burst: int = 30,
    ) -> None:
        self.rate = RateLimiter(
            rate_per_minute, rate_burst, clock, user_rate_per_minute, user_rate_burst
        )
        self.breakers = CircuitBreakers(breaker_failures, breaker_cooldown_s, clock)
