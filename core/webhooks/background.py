"""Wiring webhooks into a Baton process: queue with every event, deliver in a daemon thread.

Every process that appends run events registers the outbox hook (through
:func:`core.plugins.setup_process`); processes that execute runs (``baton serve`` with workers,
``baton worker``) also send, in a thread of their own so no step or request waits on a receiver.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from core.background import BackgroundLoop
from core.config import Settings
from core.webhooks.delivery import WebhookDelivery

log = logging.getLogger(__name__)
_sender = BackgroundLoop("baton-webhooks", stop_timeout=15.0)


def start_background_delivery(engine: Engine, settings: Settings) -> bool:
    """Start this process's webhook sender once (later calls leave the running one)."""
    if not _sender.running:
        log.info("webhook delivery on")
    return _sender.start(lambda: WebhookDelivery(engine, settings).run_forever)


def stop_background_delivery() -> None:
    """Stop the sender, waiting for the deliveries in flight (each bounded by its timeout)."""
    _sender.stop()
