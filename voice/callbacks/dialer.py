"""Placing call-backs through the telephony provider's REST API (Twilio, with its own library).

A thread in the server that takes calls: it claims due call-backs, skips those no longer
wanted (consent withdrawn, the question already answered elsewhere), waits out the person's
quiet hours, any call they are on and, for a question, a short delay in which the push may
be answered instead, then places one outbound call whose answer connects to
the same media stream as an incoming call. Each call-back is dialed at most once: a failed
dial, or a dialer that died mid-dial, falls back to a push instead of ringing twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from core.config import Settings
from core.contacts.preferences import user_timezone
from core.errors import BatonError
from core.ids import utcnow
from core.runs.events import EventType
from core.runs.service import RunStore
from core.runs.surface_events import record_run_event
from voice.callbacks.prefs import Prefs, prefs_of
from voice.callbacks.queue import (
    UNANSWERED,
    CallbackKind,
    CallbackStatus,
    claim_due,
    move,
    stale_dials,
)
from voice.config import VoiceSettings

log = logging.getLogger(__name__)
S = CallbackStatus
LEASE_SECONDS = 60.0
BUSY_RETRY = timedelta(seconds=30)
HTTP_TIMEOUT_S = 10.0
REQUIRED = {
    "twilio_account_sid": "BATON_TWILIO_ACCOUNT_SID",
    "twilio_auth_token": "BATON_TWILIO_AUTH_TOKEN",
    "twilio_from_number": "BATON_TWILIO_FROM_NUMBER",
}


def missing_settings(settings: Settings, voice_settings: VoiceSettings) -> list[str]:
    """The settings call-backs still need (empty when they can be placed)."""
    if voice_settings.voice_telephony.strip().lower() != "twilio":
        return ["BATON_VOICE_TELEPHONY=twilio"]
    missing = [env for name, env in REQUIRED.items() if not getattr(voice_settings, name)]
    if not settings.public_url:
        missing.append("BATON_PUBLIC_URL")
    return missing


def callback_urls(settings: Settings, callback_id: str) -> tuple[str, str]:
    """(answer URL, status URL) Twilio requests for a call-back."""
    base = f"{str(settings.public_url).rstrip('/')}/telephony/twilio/callbacks/{callback_id}"
    return f"{base}/answer", f"{base}/status"


def fall_back_to_push(engine: Engine, row: dict[str, Any], why: str) -> None:
    """The call did not reach the person: hand the run to their phone's notifications."""
    try:
        record_run_event(
            engine,
            row["tenant_id"],
            row["user_id"],
            row["run_id"],
            EventType.HANDOFF_REQUESTED,
            {
                "reason": UNANSWERED,
                "channel": "voice",
                "callback_id": row["callback_id"],
                "kind": row["kind"],
                "detail": why[:200],
            },
            once_key=f"callback:{row['callback_id']}",
        )
    except BatonError:
        log.warning("call-back %s: its run is gone; no push", row["callback_id"])


class Dialer:
    """Places due call-backs every ``poll_seconds`` until stopped."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        voice_settings: VoiceSettings,
        on_a_call: Callable[[str, str], bool],
        poll_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.voice_settings = voice_settings
        self.on_a_call = on_a_call
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store = RunStore(engine, settings)

    def start(self) -> None:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="baton-callbacks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database hiccup must not end call-backs for good
                log.exception("call-back pass failed")
            self._stop.wait(self.poll_seconds)

    def run_once(self, now: datetime | None = None) -> int:
        """One pass: settle dead dials, place what is due; returns how many were dialed."""
        now = now or utcnow()
        for row in stale_dials(self.engine, now):
            fall_back_to_push(self.engine, row, "the dialer stopped mid-dial")
        placed = 0
        for row in claim_due(self.engine, now, LEASE_SECONDS):
            placed += self._handle(row, now)
        return placed

    def _handle(self, row: dict[str, Any], now: datetime) -> int:
        callback_id = row["callback_id"]
        with self.engine.connect() as conn:
            prefs = prefs_of(conn, row["tenant_id"], row["user_id"])
            zone = user_timezone(
                conn, row["tenant_id"], row["user_id"], self.settings.calendar_timezone
            )
        if prefs is None or not prefs.enabled:
            move(self.engine, callback_id, before={S.DIALING}, to=S.SKIPPED,
                 reason="call-backs turned off")  # fmt: skip
            return 0
        if row["kind"] == CallbackKind.APPROVAL and not self._still_asked(row):
            move(self.engine, callback_id, before={S.DIALING}, to=S.SKIPPED,
                 reason="the question was answered elsewhere")  # fmt: skip
            return 0
        later = prefs.quiet_until(now, zone)
        if later is None and row["kind"] == CallbackKind.APPROVAL:
            asked_at = row["created_at"] + timedelta(
                seconds=self.voice_settings.voice_callback_delay_secs
            )
            later = asked_at if asked_at > now else None
        if later is None and self.on_a_call(row["tenant_id"], row["user_id"]):
            later = now + BUSY_RETRY
        if later is not None:
            move(self.engine, callback_id, before={S.DIALING}, to=S.PENDING, next_attempt_at=later)
            return 0
        try:
            sid = self._dial(prefs, callback_id)
        except Exception as exc:  # any refusal or network failure: never dial twice
            why = f"dial failed: {type(exc).__name__}: {exc}"[:300]
            log.warning("call-back %s: %s", callback_id, why)
            move(self.engine, callback_id, before={S.DIALING}, to=S.FAILED, reason=why)
            fall_back_to_push(self.engine, row, why)
            return 0
        move(self.engine, callback_id, before={S.DIALING}, to=S.RINGING, provider_call_id=sid)
        return 1

    def _still_asked(self, row: dict[str, Any]) -> bool:
        try:
            run = self._store.get_run(row["tenant_id"], row["user_id"], row["run_id"])
        except BatonError:
            return False
        return bool(run["pending_approval_id"]) and run["pending_approval_id"] == row["approval_id"]

    def _dial(self, prefs: Prefs, callback_id: str) -> str:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        s = self.voice_settings
        client = Client(
            s.twilio_account_sid,
            s.twilio_auth_token,
            http_client=TwilioHttpClient(timeout=HTTP_TIMEOUT_S),
        )
        client.api.base_url = s.twilio_api_url.rstrip("/")
        answer, status = callback_urls(self.settings, callback_id)
        call = client.calls.create(
            to=prefs.number,
            from_=s.twilio_from_number,
            url=answer,
            method="POST",
            status_callback=status,
            status_callback_method="POST",
            status_callback_event=["completed"],
            timeout=s.voice_callback_ring_secs,
        )
        return str(call.sid)
