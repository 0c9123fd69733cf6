"""The worker that drains the push outbox, away from any call.

Per notification: claim it with a lease, build its signed deep link, send it (quick retries
with tenacity for a flaky network), then record the outcome. Later attempts back off in the
store (``next_attempt_at``), so they survive restarts. A crash after the push service took the
message but before it was marked delivered means it is sent again after the lease expires;
the copy carries the same collapse key / Topic / tag, so the device still shows one
notification. A push service that says the device is gone removes the device.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from core.config import Settings
from core.ids import utcnow
from handoff.config import HandoffSettings
from handoff.devices import remove_device
from handoff.links import deep_link
from handoff.push.base import DeviceGone, Notification, PermanentFailure, Sender, TransientFailure
from handoff.push.outbox import claim_due, mark_delivered, mark_failed, mark_retry
from handoff.signing import Signer

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        """Notifications this pass touched."""
        return self.delivered + self.retried + self.failed + self.dropped


def backoff_seconds(attempts: int, cap: float = 3600.0) -> float:
    """Delay before attempt ``attempts + 1``: 5 s, 10 s, 20 s … up to an hour, with jitter."""
    base: float = min(cap, 5.0 * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)


class PushDelivery:
    """Delivers due notifications with the senders configured for this process."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        handoff_settings: HandoffSettings,
        senders: Mapping[str, Sender],
        signer: Signer,
        quick_retries: int = 3,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.handoff_settings = handoff_settings
        self.senders = dict(senders)
        self.signer = signer
        self.quick_retries = quick_retries

    def notification(self, push: dict[str, Any]) -> Notification:
        """The notification of an outbox row, with a freshly signed deep link."""
        payload = push["payload"]
        fields = ("kind", "run_id", "artifact_id", "approval_id")
        data = {k: str(payload[k]) for k in fields if k in payload}
        return Notification(
            title=payload["title"],
            body=payload["body"],
            link=deep_link(self.settings, self.handoff_settings, self.signer, push, payload),
            dedup_key=push["dedup_key"],
            data=data,
        )

    def _send(self, sender: Sender, push: dict[str, Any], note: Notification) -> str:
        retrying = Retrying(
            stop=stop_after_attempt(self.quick_retries),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_exception_type(TransientFailure),
            reraise=True,
        )
        device = {"address": push["address"], "keys_json": push["keys_json"]}
        return retrying(sender.send, device, note)

    def deliver(
        self, push: dict[str, Any], report: DeliveryReport, now: datetime | None = None
    ) -> None:
        """Send one claimed notification and record what happened (retries count from ``now``)."""
        sender = self.senders.get(push["kind"] or "")
        if push["kind"] is None:
            mark_failed(self.engine, push, "the device was removed")
            report.dropped += 1
            return
        if sender is None:
            self._retry_or_fail(push, f"no {push['kind']} sender is configured", report, now)
            return
        try:
            message_id = self._send(sender, push, self.notification(push))
        except DeviceGone as exc:
            with self.engine.begin() as conn:
                remove_device(conn, push["tenant_id"], push["user_id"], push["device_id"], str(exc))
            log.info("push %s: device %s removed: %s", push["push_id"], push["device_id"], exc)
            report.dropped += 1
            return
        except PermanentFailure as exc:
            mark_failed(self.engine, push, str(exc))
            report.failed += 1
            report.errors.append(str(exc))
            return
        except TransientFailure as exc:
            self._retry_or_fail(push, str(exc), report, now)
            return
        mark_delivered(self.engine, push, message_id)
        report.delivered += 1

    def _retry_or_fail(
        self,
        push: dict[str, Any],
        error: str,
        report: DeliveryReport,
        now: datetime | None = None,
    ) -> None:
        report.errors.append(error)
        if int(push["attempts"]) >= self.handoff_settings.push_max_attempts:
            mark_failed(self.engine, push, f"gave up after {push['attempts']} attempts: {error}")
            report.failed += 1
            return
        at = (now or utcnow()) + timedelta(seconds=backoff_seconds(int(push["attempts"])))
        mark_retry(self.engine, push, error, at)
        report.retried += 1

    def run_once(self, now: datetime | None = None, limit: int = 10) -> DeliveryReport:
        """Deliver up to ``limit`` notifications that are due at ``now``.

        Each one is claimed just before it is sent, so its lease covers only its own send.
        """
        report = DeliveryReport()
        lease = self.handoff_settings.push_lease_seconds
        for _ in range(limit):
            at = now or utcnow()
            claimed = claim_due(self.engine, at, lease, limit=1)
            if not claimed:
                break
            push = claimed[0]
            try:
                self.deliver(push, report, at)
            except Exception as exc:  # one bad row must not stop the others
                log.exception("push %s failed unexpectedly", push["push_id"])
                self._retry_or_fail(push, f"{exc.__class__.__name__}: {exc}", report, at)
        return report

    def run_forever(self, stop: threading.Event) -> None:
        """Poll the outbox until ``stop`` is set."""
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                log.exception("push delivery pass failed; retrying")
                report = DeliveryReport()
            if report.handled == 0:
                stop.wait(self.handoff_settings.push_poll_seconds)
