"""Wiring push delivery into a Baton process: senders from settings, a background loop."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from core.background import BackgroundLoop, Loop
from core.config import Settings
from handoff.config import HandoffSettings
from handoff.push.base import Sender
from handoff.push.delivery import PushDelivery
from handoff.push.vapid import load_vapid_key, vapid_key_path
from handoff.web.session import signer

log = logging.getLogger(__name__)


def senders_from_settings(
    settings: Settings, handoff_settings: HandoffSettings
) -> dict[str, Sender]:
    """The senders this server is configured for (none when neither FCM nor VAPID is set up)."""
    senders: dict[str, Sender] = {}
    if handoff_settings.fcm_service_account_file is not None:
        from handoff.push.fcm import FcmSender

        senders["fcm"] = FcmSender(handoff_settings.fcm_service_account_file)
    key_path = vapid_key_path(settings, handoff_settings)
    if key_path.is_file():
        from handoff.push.webpush import WebPushSender

        senders["webpush"] = WebPushSender(load_vapid_key(key_path), handoff_settings.vapid_subject)
    return senders


def delivery_from_settings(
    engine: Engine, settings: Settings, handoff_settings: HandoffSettings
) -> PushDelivery:
    """A delivery worker over ``engine`` with the configured senders."""
    return PushDelivery(
        engine,
        settings,
        handoff_settings,
        senders_from_settings(settings, handoff_settings),
        signer(settings, handoff_settings),
    )


_loop = BackgroundLoop("baton-push", stop_timeout=5.0)


def start_background_delivery(
    engine: Engine, settings: Settings, handoff_settings: HandoffSettings
) -> bool:
    """Start this process's delivery loop once, if push is enabled and a sender is set up."""
    if not handoff_settings.push_delivery:
        return False

    def make() -> Loop | None:
        try:
            delivery = delivery_from_settings(engine, settings, handoff_settings)
        except (OSError, ValueError) as exc:
            log.error("push delivery is off: %s", exc)
            return None
        if not delivery.senders:
            log.info("push delivery is off: no FCM service account and no VAPID key")
            return None
        log.info("push delivery on: %s", ", ".join(sorted(delivery.senders)))
        return delivery.run_forever

    return _loop.start(make)


def stop_background_delivery() -> None:
    """Stop the loop started by :func:`start_background_delivery` (after its current pass)."""
    _loop.stop()
