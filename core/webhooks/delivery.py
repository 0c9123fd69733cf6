"""Sending webhook deliveries: signed POSTs, retried with backoff, recorded after the answer.

Per delivery: claim it with a lease, sign the stored body with a fresh timestamp (see
:mod:`core.webhooks.signing`), POST it, and only after a 2xx answer mark it delivered. A
crash between the receiver's answer and that record leaves the row leased; once the lease runs
out another sender posts it again with the same ``Baton-Delivery-Id``, which is the receiver's
dedupe key. Any other answer, a redirect, a timeout or a network error is a failed attempt:
the row goes back to the queue with ``next_attempt_at`` set by tenacity's exponential wait, so
retries survive restarts and never hold a sender. After BATON_WEBHOOK_MAX_ATTEMPTS attempts the
delivery fails; after BATON_WEBHOOK_DISABLE_AFTER failed deliveries in a row the webhook is
disabled with the reason. Unless BATON_WEBHOOK_ALLOW_PRIVATE is set, a URL whose host resolves
to a loopback, private or link-local address is a failed attempt (:mod:`core.webhooks.addresses`).

Deliveries are sent concurrently on one event loop, each bounded by
BATON_WEBHOOK_TIMEOUT_SECONDS, so one slow receiver never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from sqlalchemy import Engine
from tenacity import RetryCallState, wait_exponential, wait_random

from core.config import Settings
from core.ids import utcnow
from core.webhooks.addresses import AddressRefused, check_public
from core.webhooks.outbox import Claimed, claim_due, mark_delivered, mark_failed, mark_retry
from core.webhooks.signing import signature_header

log = logging.getLogger(__name__)
USER_AGENT = "Baton-Webhooks/1"
# Past the HTTP timeout, the time a sender may take to record the answer before its lease ends.
LEASE_MARGIN_S = 30.0
BACKOFF = wait_exponential(multiplier=5, max=3600) + wait_random(0, 2)


class Result(StrEnum):
    """What became of a delivery after one attempt."""

    DELIVERED = "delivered"
    RETRIED = "retried"
    FAILED = "failed"


@dataclass
class DeliveryReport:
    """What one pass did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, result: Result, error: str | None) -> None:
        """Count one attempt's result."""
        if result is Result.DELIVERED:
            self.delivered += 1
        elif result is Result.RETRIED:
            self.retried += 1
        else:
            self.failed += 1
        if error is not None:
            self.errors.append(error)

    @property
    def handled(self) -> int:
        """Deliveries this pass touched."""
        return self.delivered + self.retried + self.failed


@dataclass(frozen=True)
class Outcome:
    """The answer to one attempt: a status code, or the error that stopped it."""

    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether the receiver accepted the delivery."""
        return self.error is None


def backoff_seconds(attempts: int) -> float:
    """Delay before the attempt after ``attempts``: about 5 s, 10 s, 20 s ... up to an hour."""
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempts)
    return float(BACKOFF(state))


def request_headers(claimed: Claimed, timestamp: int) -> dict[str, str]:
    """The headers of one attempt (see :mod:`core.webhooks.signing`)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Baton-Event": claimed.event,
        "Baton-Delivery-Id": claimed.delivery_id,
        "Idempotency-Key": claimed.delivery_id,
        "Baton-Timestamp": str(timestamp),
        "Baton-Signature": signature_header(claimed.secret, timestamp, claimed.body.encode()),
    }


class WebhookDelivery:
    """Delivers due webhook deliveries from one database."""

    def __init__(self, engine: Engine, settings: Settings, concurrency: int = 16) -> None:
        self.engine = engine
        self.settings = settings
        self.concurrency = max(1, concurrency)

    @property
    def lease_seconds(self) -> float:
        """How long a claim is exclusive: the request's timeout plus time to record it."""
        return self.settings.webhook_timeout_seconds + LEASE_MARGIN_S

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_seconds, follow_redirects=False
        )

    async def send(self, client: httpx.AsyncClient, claimed: Claimed) -> Outcome:
        """POST one delivery and report the answer (the response body is not read)."""
        body = claimed.body.encode()
        headers = request_headers(claimed, int(time.time()))
        limit = self.settings.webhook_timeout_seconds
        if not self.settings.webhook_allow_private:
            try:
                await check_public(claimed.url)
            except AddressRefused as exc:
                return Outcome(None, str(exc))
        try:
            async with asyncio.timeout(limit):
                async with client.stream("POST", claimed.url, content=body, headers=headers) as r:
                    code = r.status_code
        except TimeoutError:
            return Outcome(None, f"no answer within {limit:g} s")
        except httpx.HTTPError as exc:
            return Outcome(None, f"{exc.__class__.__name__}: {exc}" if str(exc) else repr(exc))
        if 200 <= code < 300:
            return Outcome(code, None)
        if 300 <= code < 400:
            return Outcome(code, f"HTTP {code}: redirects are not followed")
        return Outcome(code, f"HTTP {code}")

    def record(self, claimed: Claimed, outcome: Outcome) -> Result:
        """Store what happened to one attempt, and say what became of the delivery."""
        if outcome.ok:
            mark_delivered(self.engine, claimed, outcome.status_code or 200)
            return Result.DELIVERED
        error = outcome.error or "failed"
        if claimed.attempts >= self.settings.webhook_max_attempts:
            mark_failed(
                self.engine,
                claimed,
                outcome.status_code,
                f"gave up after {claimed.attempts} attempts: {error}",
                self.settings.webhook_disable_after,
            )
            return Result.FAILED
        at = utcnow() + timedelta(seconds=backoff_seconds(claimed.attempts))
        mark_retry(self.engine, claimed, outcome.status_code, error, at)
        return Result.RETRIED

    async def deliver(
        self, client: httpx.AsyncClient, claimed: Claimed, report: DeliveryReport
    ) -> None:
        """Send one claimed delivery and record the outcome."""
        try:
            outcome = await self.send(client, claimed)
        except Exception as exc:  # one bad row must not stop the others
            log.exception("webhook delivery %s failed unexpectedly", claimed.delivery_id)
            outcome = Outcome(None, f"{exc.__class__.__name__}: {exc}")
        try:
            result = await asyncio.to_thread(self.record, claimed, outcome)
        except Exception:
            # The lease runs out and the delivery is sent again, with the same id.
            log.exception("webhook delivery %s: recording the outcome failed", claimed.delivery_id)
            return
        report.add(result, outcome.error)

    async def run_once(self, now: datetime | None = None, limit: int = 50) -> DeliveryReport:
        """Claim up to ``limit`` deliveries due at ``now`` and send them concurrently."""
        report = DeliveryReport()
        claimed = await asyncio.to_thread(
            claim_due, self.engine, now or utcnow(), self.lease_seconds, limit
        )
        if claimed:
            async with self._client() as client:
                await asyncio.gather(*(self.deliver(client, c, report) for c in claimed))
        return report

    async def serve(self, stop: threading.Event) -> None:
        """Keep up to ``concurrency`` deliveries in flight until ``stop`` is set; a slot that
        frees up is refilled at once, without waiting for slower receivers."""
        report = DeliveryReport()
        inflight: set[asyncio.Task[None]] = set()
        async with self._client() as client:
            while not stop.is_set():
                room = self.concurrency - len(inflight)
                claimed: list[Claimed] = []
                if room > 0:
                    try:
                        claimed = await asyncio.to_thread(
                            claim_due, self.engine, utcnow(), self.lease_seconds, room
                        )
                    except Exception:
                        log.exception("claiming webhook deliveries failed; retrying")
                for c in claimed:
                    task = asyncio.create_task(self.deliver(client, c, report))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if claimed and len(inflight) < self.concurrency:
                    continue
                if inflight:
                    await asyncio.wait(
                        inflight,
                        timeout=self.settings.webhook_poll_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                else:
                    await asyncio.sleep(self.settings.webhook_poll_seconds)
                report.errors.clear()
            if inflight:
                await asyncio.wait(inflight)

    def run_forever(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set (blocks; run it in a thread of its own)."""
        asyncio.run(self.serve(stop))
