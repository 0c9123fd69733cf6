"""A real webhook-sending process for the crash test: Baton's WebhookDelivery loop.

Settings (the database, the poll interval) come from the BATON_* environment.
"""

from __future__ import annotations

import threading

from core.config import get_settings
from core.store.db import make_engine
from core.webhooks.delivery import WebhookDelivery


def main() -> None:
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    WebhookDelivery(engine, settings).run_forever(threading.Event())


if __name__ == "__main__":
    main()
