"""A real push-delivery process for the crash test: Baton's PushDelivery with both senders.

Settings come from the environment (BATON_*); the FCM sender is pointed at the local FCM
server given on the command line, as the in-process tests do.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from core.config import get_settings
from core.store.db import make_engine
from handoff.config import get_handoff_settings
from handoff.push.delivery import PushDelivery
from handoff.push.fcm import FcmSender
from handoff.push.vapid import load_vapid_key, vapid_key_path
from handoff.push.webpush import WebPushSender
from handoff.web.session import signer
from tests.handoff.conftest import route_fcm_to


def main() -> None:
    service_account, fcm_base = Path(sys.argv[1]), sys.argv[2]
    settings, handoff_settings = get_settings(), get_handoff_settings()
    fcm = FcmSender(service_account)
    route_fcm_to(fcm, fcm_base)
    key = load_vapid_key(vapid_key_path(settings, handoff_settings))
    webpush = WebPushSender(key, handoff_settings.vapid_subject)
    delivery = PushDelivery(
        make_engine(settings.resolved_database_url()),
        settings,
        handoff_settings,
        {"fcm": fcm, "webpush": webpush},
        signer(settings, handoff_settings),
    )
    delivery.run_forever(threading.Event())


if __name__ == "__main__":
    main()
