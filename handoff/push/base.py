"""What every push sender receives and how it reports failure."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Notification:
    """One notification for one device, ready to encode for its push service."""

    title: str
    body: str
    link: str
    # What is announced (``artifact:<id>``); it names the notification on the device so that
    # a re-sent copy replaces the first instead of appearing twice.
    dedup_key: str
    data: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        """A short, stable name for the notification (collapse key, notification tag)."""
        return "baton-" + hashlib.sha256(self.dedup_key.encode()).hexdigest()[:24]

    @property
    def topic(self) -> str:
        """RFC 8030 Topic: at most 32 URL-safe base64 characters, stable per dedup key."""
        digest = hashlib.sha256(self.dedup_key.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:32]

    def payload(self) -> dict[str, Any]:
        """The JSON the service worker or app receives."""
        return {
            "title": self.title,
            "body": self.body,
            "link": self.link,
            "tag": self.tag,
            "data": self.data,
        }


class DeviceGone(Exception):
    """The push service says this token or subscription is no longer valid: remove the device."""


class PermanentFailure(Exception):
    """This notification can never be delivered as it is (bad payload, rejected credentials)."""


class TransientFailure(Exception):
    """Try again later (network error, rate limit, push service unavailable)."""


class Sender(Protocol):
    """Sends one notification to one device of its kind; returns the push service's id."""

    kind: str

    def send(self, device: dict[str, Any], notification: Notification) -> str:
        """Deliver or raise DeviceGone / PermanentFailure / TransientFailure."""
