"""Web Push (RFC 8030) with encrypted payloads (RFC 8291) and VAPID (RFC 8292) via pywebpush."""

from __future__ import annotations

import json
from typing import Any

import requests
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from handoff.push.base import DeviceGone, Notification, PermanentFailure, TransientFailure

# How long the push service may hold a message for an offline browser.
TTL_SECONDS = 24 * 3600


class WebPushSender:
    """Sends to browser push subscriptions, signed with the server's VAPID key."""

    kind = "webpush"

    def __init__(self, vapid_key: Vapid, subject: str, timeout_s: float = 10.0) -> None:
        self.vapid_key = vapid_key
        self.subject = subject
        self.timeout_s = timeout_s

    def send(self, device: dict[str, Any], notification: Notification) -> str:
        """Encrypt and POST to the subscription's endpoint; returns the push service's id."""
        subscription = {"endpoint": device["address"], "keys": device["keys_json"] or {}}
        try:
            response = webpush(
                subscription_info=subscription,
                data=json.dumps(notification.payload()),
                vapid_private_key=self.vapid_key,
                # A fresh dict each time: pywebpush writes the audience of this endpoint into it.
                vapid_claims={"sub": self.subject},
                ttl=TTL_SECONDS,
                headers={"Topic": notification.topic, "Urgency": "high"},
                timeout=self.timeout_s,
            )
        except WebPushException as exc:
            status = exc.status_code
            if status in (404, 410):
                raise DeviceGone(f"Web Push: subscription gone ({status})") from exc
            if status == 429 or (status is not None and status >= 500):
                raise TransientFailure(f"Web Push: {status}") from exc
            raise PermanentFailure(f"Web Push: rejected ({status}): {exc.message}") from exc
        except requests.RequestException as exc:
            raise TransientFailure(f"Web Push: {exc.__class__.__name__}: {exc}") from exc
        assert isinstance(response, requests.Response)
        return str(response.headers.get("Location") or response.status_code)
