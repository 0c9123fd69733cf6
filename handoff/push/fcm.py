"""Firebase Cloud Messaging through firebase-admin's messaging client (FCM HTTP v1).

Credentials come from a service-account JSON file: google-auth signs a JWT with its key and
trades it for an OAuth token at the file's ``token_uri``. Each notification carries the same
collapse identifiers on every platform (Android collapse key, APNs collapse id, Web Push Topic
and tag), so a copy re-sent after a crash replaces the first one on the device.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import firebase_admin
from firebase_admin import credentials, exceptions, messaging
from google.auth import exceptions as auth_exceptions

from handoff.push.base import DeviceGone, Notification, PermanentFailure, TransientFailure

# Retrying cannot help these; the token is dead or belongs to another Firebase project.
_GONE = (messaging.UnregisteredError, messaging.SenderIdMismatchError)
_PERMANENT = (
    exceptions.InvalidArgumentError,
    exceptions.PermissionDeniedError,
    exceptions.UnauthenticatedError,
    exceptions.FailedPreconditionError,
    exceptions.NotFoundError,
)


class FcmSender:
    """Sends to FCM registration tokens with one service account."""

    kind = "fcm"

    def __init__(self, service_account_file: Path, timeout_s: float = 10.0) -> None:
        path = Path(service_account_file)
        if not path.is_file():
            raise FileNotFoundError(f"FCM service account file not found: {path}")
        name = "baton-fcm-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        try:
            self.app = firebase_admin.get_app(name)
        except ValueError:
            self.app = firebase_admin.initialize_app(
                credentials.Certificate(str(path)), {"httpTimeout": timeout_s}, name=name
            )

    def message(self, token: str, note: Notification) -> messaging.Message:
        """The FCM v1 message for one device."""
        data = {**note.data, "link": note.link, "tag": note.tag}
        with warnings.catch_warnings():
            # firebase-admin 7.7 prefers installation ids (``fid``); registration tokens, which
            # the apps and browsers we serve hand us, stay valid on the v1 API.
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._message(token, note, data)

    @staticmethod
    def _message(token: str, note: Notification, data: dict[str, str]) -> messaging.Message:
        return messaging.Message(
            token=token,
            notification=messaging.Notification(title=note.title, body=note.body),
            data=data,
            android=messaging.AndroidConfig(
                collapse_key=note.tag,
                priority="high",
                notification=messaging.AndroidNotification(tag=note.tag),
            ),
            apns=messaging.APNSConfig(headers={"apns-collapse-id": note.tag}),
            webpush=messaging.WebpushConfig(
                headers={"Topic": note.topic, "Urgency": "high"},
                notification=messaging.WebpushNotification(
                    title=note.title, body=note.body, tag=note.tag, renotify=False
                ),
                # FCM only accepts https links here; the link is in the data either way.
                fcm_options=(
                    messaging.WebpushFCMOptions(link=note.link)
                    if note.link.startswith("https://")
                    else None
                ),
            ),
        )

    def send(self, device: dict[str, Any], notification: Notification) -> str:
        """Send through FCM; returns the message name FCM assigned."""
        try:
            # dry_run=False explicitly: some of the library's entry points default to dry runs.
            return messaging.send(
                self.message(device["address"], notification), dry_run=False, app=self.app
            )
        except _GONE as exc:
            raise DeviceGone(f"FCM: {exc}") from exc
        except _PERMANENT as exc:
            raise PermanentFailure(f"FCM: {exc}") from exc
        except exceptions.FirebaseError as exc:
            raise TransientFailure(f"FCM: {exc}") from exc
        except auth_exceptions.GoogleAuthError as exc:
            # The OAuth token exchange failed: often the network, sometimes a revoked key;
            # retries with backoff end in 'failed' if it never recovers.
            raise TransientFailure(f"FCM credentials: {exc}") from exc
        except ValueError as exc:
            raise PermanentFailure(f"FCM message rejected before sending: {exc}") from exc
