"""Wiring push delivery into a Baton process: senders from settings, a background loop."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from core.config import Settings
from handoff.push.base import Sender
from handoff.push.delivery import PushDelivery
from handoff.push.vapid import load_vapid_key, vapid_key_path
from handoff.web.session import signer

log = logging.getLogger(__name__)


def senders_from_settings(settings: Settings) -> dict[str, Sender]:
    """The senders this server is configured for (none when neither FCM nor VAPID is set up)."""
    senders: dict[str, Sender] = {}
    if settings.fcm_service_account_file is not None:
        from handoff.push.fcm import FcmSender

        senders["fcm"] = FcmSender(settings.fcm_service_account_file)
    key_path = vapid_key_path(settings)
    if key_path.is_file():
        from handoff.push.webpush import WebPushSender

        senders["webpush"] = WebPushSender(load_vapid_key(key_path), settings.vapid_subject)
    return senders


def delivery_from_settings(engine: Engine, settings: Settings) -> PushDelivery:
    """A delivery worker over ``engine`` with the configured senders."""
    return PushDelivery(engine, settings, senders_from_settings(settings), signer(settings))


class DeliveryThread:
    """Drains the outbox in a daemon thread so that no request or call ever waits on a push."""

    def __init__(self, delivery: PushDelivery) -> None:
        self.delivery = delivery
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=delivery.run_forever, args=(self._stop,), name="baton-push", daemon=True
        )

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current pass."""
        self._stop.set()
        self._thread.join(timeout)


_running: DeliveryThread | None = None
_lock = threading.Lock()


def start_background_delivery(engine: Engine, settings: Settings) -> DeliveryThread | None:
    """Start this process's delivery loop once, if push is enabled and a sender is set up."""
    global _running
    with _lock:
        if _running is not None or not settings.push_delivery:
            return _running
        try:
            delivery = delivery_from_settings(engine, settings)
        except (OSError, ValueError) as exc:
            log.error("push delivery is off: %s", exc)
            return None
        if not delivery.senders:
            log.info("push delivery is off: no FCM service account and no VAPID key")
            return None
        _running = DeliveryThread(delivery)
        _running.start()
        log.info("push delivery on: %s", ", ".join(sorted(delivery.senders)))
        return _running


def stop_background_delivery() -> None:
    """Stop the loop started by :func:`start_background_delivery`."""
    global _running
    with _lock:
        if _running is not None:
            _running.stop()
            _running = None
