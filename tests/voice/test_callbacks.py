"""Call-backs: who is called back, when, and that each run event rings at most once.

The dialer places calls through the real ``twilio`` client against a local server speaking
Twilio's REST API; runs are real (scripted agent, real step code).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from core.config import Settings
from core.errors import InvalidInput
from core.runs.events import EventType
from core.runs.log import register_tx_hook, unregister_tx_hook
from core.runs.service import RunStore
from core.runs.surface_events import record_run_event
from tests.core.helpers import drive
from tests.voice.server import (
    EmailOutbox,
    approval_gate,
    create_voice_app,
    scripted_agent,
    split_settings,
)
from tests.voice.twilio_rest import serve_twilio_rest
from voice.callbacks.dialer import Dialer
from voice.callbacks.prefs import Prefs, set_prefs
from voice.callbacks.queue import callback_hook, callbacks_for_run
from voice.config import VoiceSettings
from voice.identity import link_number

SID, TOKEN, OURS = "AC" + "1" * 32, "secret-token", "+15550001111"
NUMBER = "+15551230042"
NEVER_QUIET = {"quiet_start": "00:00", "quiet_end": "00:00"}


@pytest.fixture
def hooked() -> Iterator[None]:
    register_tx_hook(callback_hook)
    try:
        yield
    finally:
        unregister_tx_hook(callback_hook)


def _settings(api_url: str, **overrides: Any) -> tuple[Settings, VoiceSettings]:
    values: dict[str, Any] = {
        "plugins": "none",
        "agent": "scripted",
        "twilio_account_sid": SID,
        "twilio_auth_token": TOKEN,
        "twilio_from_number": OURS,
        "twilio_api_url": api_url,
        "public_url": "https://baton.example",
        "voice_callback_delay_secs": 0,
    }
    return split_settings(**{**values, **overrides})


def _opt_in(engine: Engine, user: str = "kim", **prefs: str) -> None:
    link_number(engine, "acme", user, NUMBER)
    wanted = {**NEVER_QUIET, **prefs}
    set_prefs(engine, "acme", user, Prefs(enabled=True, number=NUMBER, **wanted))


def _waiting_run(engine: Engine, user: str = "kim") -> dict[str, Any]:
    """A run that asked to send an email and waits for the person's yes."""
    store = RunStore(engine, Settings(plugins="none", agent="scripted"))
    run = store.create_run("acme", user, "Email Alice about the budget", channel="voice")
    drive(engine, approval_gate(EmailOutbox()), scripted_agent())
    waiting = store.get_run("acme", user, run["run_id"])
    assert waiting["pending_approval_id"], waiting
    return waiting


def _hung_up(
    engine: Engine, run: dict[str, Any], reason: str, line: str = "phone", user: str = "kim"
) -> None:
    data = {"reason": reason, "channel": "voice", "call_channel": line, "call_id": "call_1"}
    if run.get("pending_approval_id"):
        data["approval_id"] = run["pending_approval_id"]
    record_run_event(engine, "acme", user, run["run_id"], EventType.HANDOFF_REQUESTED, data)


def _statuses(engine: Engine, run_id: str, user: str = "kim") -> list[tuple[str, str]]:
    return [(c["kind"], c["status"]) for c in callbacks_for_run(engine, "acme", user, run_id)]


async def test_a_question_left_open_on_a_phone_call_rings_the_person_once(engine, hooked):
    _opt_in(engine)
    run = await asyncio.to_thread(_waiting_run, engine)
    _hung_up(engine, run, "call_ended_with_approval_pending")
    _hung_up(engine, run, "call_ended_with_approval_pending")  # a second hang-up handler
    async with serve_twilio_rest(SID, TOKEN) as rest:
        dialer = Dialer(engine, *_settings(rest.url), on_a_call=lambda *_: False)
        assert await asyncio.to_thread(dialer.run_once) == 1
        assert await asyncio.to_thread(dialer.run_once) == 0
        (call,) = rest.calls
    (callback,) = callbacks_for_run(engine, "acme", "kim", run["run_id"])
    assert (callback["kind"], callback["status"]) == ("approval", "ringing")
    assert callback["provider_call_id"] == call.sid
    assert (call.to, call.from_) == (NUMBER, OURS)
    base = f"https://baton.example/telephony/twilio/callbacks/{callback['callback_id']}"
    assert (call.url, call.status_callback) == (f"{base}/answer", f"{base}/status")


async def test_a_question_waits_a_minute_for_the_push_to_be_answered_first(engine, hooked):
    _opt_in(engine)
    run = await asyncio.to_thread(_waiting_run, engine)
    _hung_up(engine, run, "call_ended_with_approval_pending")
    async with serve_twilio_rest(SID, TOKEN) as rest:
        patient = _settings(rest.url, voice_callback_delay_secs=60)
        dialer = Dialer(engine, *patient, on_a_call=lambda *_: False)
        assert await asyncio.to_thread(dialer.run_once) == 0
        (held,) = callbacks_for_run(engine, "acme", "kim", run["run_id"])
        assert held["status"] == "pending"
        assert held["next_attempt_at"] == held["created_at"] + timedelta(seconds=60)
        later = datetime.now(UTC) + timedelta(seconds=61)
        assert await asyncio.to_thread(dialer.run_once, later) == 1
        assert len(rest.calls) == 1


async def test_nobody_is_called_without_consent_or_after_a_browser_call(engine, hooked):
    run = await asyncio.to_thread(_waiting_run, engine)
    _hung_up(engine, run, "call_ended_with_approval_pending")
    assert _statuses(engine, run["run_id"]) == []

    _opt_in(engine)
    browser_run = await asyncio.to_thread(_waiting_run, engine)
    _hung_up(engine, browser_run, "call_ended_with_approval_pending", line="browser")
    assert _statuses(engine, browser_run["run_id"]) == []


def test_a_run_that_outlived_the_call_calls_back_with_its_outcome(engine, hooked):
    _opt_in(engine)
    store = RunStore(engine, Settings(plugins="none", agent="scripted"))
    run = store.create_run("acme", "kim", "What is the capital of France?", channel="voice")
    _hung_up(engine, run, "call_ended_while_working")
    assert _statuses(engine, run["run_id"]) == [("watch", "watching")]

    drive(engine, approval_gate(EmailOutbox()), scripted_agent())
    assert store.get_run("acme", "kim", run["run_id"])["status"] == "completed"
    assert _statuses(engine, run["run_id"]) == [("watch", "done"), ("result", "pending")]


async def test_quiet_hours_hold_the_call_until_they_end(engine, hooked):
    now = datetime.now(UTC)
    # Quiet from two hours ago to two hours from now, in the person's own zone.
    start, end = (now.hour - 2) % 24, (now.hour + 2) % 24
    # The person never chose a zone: BATON_CALENDAR_TIMEZONE (UTC) applies.
    _opt_in(engine, quiet_start=f"{start:02d}:00", quiet_end=f"{end:02d}:00")
    run = await asyncio.to_thread(_waiting_run, engine)
    _hung_up(engine, run, "call_ended_with_approval_pending")
    async with serve_twilio_rest(SID, TOKEN) as rest:
        dialer = Dialer(engine, *_settings(rest.url), on_a_call=lambda *_: False)
        assert await asyncio.to_thread(dialer.run_once) == 0
        assert rest.calls == []
    (callback,) = callbacks_for_run(engine, "acme", "kim", run["run_id"])
    assert callback["status"] == "pending"
    held_until = callback["next_attempt_at"].astimezone(UTC)
    assert (held_until.hour, held_until.minute) == (end, 0) and held_until > now


async def test_a_person_on_a_call_is_not_rung_and_an_answered_question_not_at_all(engine, hooked):
    _opt_in(engine)
    run = await asyncio.to_thread(_waiting_run, engine)
    _hung_up(engine, run, "call_ended_with_approval_pending")
    async with serve_twilio_rest(SID, TOKEN) as rest:
        busy = Dialer(engine, *_settings(rest.url), on_a_call=lambda *_: True)
        assert await asyncio.to_thread(busy.run_once) == 0
        assert _statuses(engine, run["run_id"]) == [("approval", "pending")]

        store = RunStore(engine, Settings(plugins="none", agent="scripted"))
        store.decide_approval(
            "acme", "kim", run["run_id"], run["pending_approval_id"], True, channel="web"
        )
        free = Dialer(engine, *_settings(rest.url), on_a_call=lambda *_: False)
        # The held call-back is due again later; pass the wait.
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert await asyncio.to_thread(free.run_once, later) == 0
        assert rest.calls == []
    assert _statuses(engine, run["run_id"]) == [("approval", "skipped")]


async def test_a_refused_dial_is_not_retried_and_falls_back_to_a_push(engine, hooked):
    _opt_in(engine)
    run = await asyncio.to_thread(_waiting_run, engine)
    _hung_up(engine, run, "call_ended_with_approval_pending")
    async with serve_twilio_rest(SID, TOKEN) as rest:
        wrong = Dialer(
            engine, *_settings(rest.url, twilio_auth_token="not-the-token"), lambda *_: False
        )
        assert await asyncio.to_thread(wrong.run_once) == 0
        assert await asyncio.to_thread(wrong.run_once) == 0
        assert rest.calls == []
    (callback,) = callbacks_for_run(engine, "acme", "kim", run["run_id"])
    assert callback["status"] == "failed" and "401" in callback["reason"]
    store = RunStore(engine, Settings(plugins="none", agent="scripted"))
    fallbacks = [
        e["data"] for e in store.events("acme", "kim", run["run_id"])
        if e["type"] == "HandoffRequested" and e["data"]["reason"] == "callback_unanswered"
    ]  # fmt: skip
    assert [f["callback_id"] for f in fallbacks] == [callback["callback_id"]]


def test_preferences_are_checked_before_they_are_kept(engine):
    link_number(engine, "acme", "kim", NUMBER)
    good = Prefs(enabled=True, number=NUMBER, **NEVER_QUIET)
    for bad, reason in [
        (Prefs(**{**good.__dict__, "number": "+15559999999"}), "not linked to you"),
        (Prefs(**{**good.__dict__, "quiet_start": "25:00"}), "not a time of day"),
    ]:
        with pytest.raises(InvalidInput, match=reason):
            set_prefs(engine, "acme", "kim", bad)
    kept = set_prefs(engine, "acme", "kim", Prefs(**{**good.__dict__, "number": "+1 555 123 0042"}))
    assert kept.number == NUMBER


@pytest.mark.parametrize(
    ("now", "quiet", "until"),
    [
        ("23:30", ("22:00", "08:00"), "08:00+1"),
        ("07:00", ("22:00", "08:00"), "08:00"),
        ("12:00", ("22:00", "08:00"), None),
        ("13:30", ("13:00", "14:00"), "14:00"),
        ("14:00", ("13:00", "14:00"), None),
    ],
)
def test_quiet_hours_are_read_in_the_persons_time_zone(now, quiet, until):
    prefs = Prefs(True, NUMBER, quiet[0], quiet[1])
    local = datetime.fromisoformat(f"2026-06-10T{now}:00-04:00")
    end = prefs.quiet_until(local.astimezone(UTC), ZoneInfo("America/New_York"))
    if until is None:
        assert end is None
    else:
        day = 11 if until.endswith("+1") else 10
        assert end == datetime.fromisoformat(f"2026-06-{day}T{until[:5]}:00-04:00")


def _client(engine: Engine, **settings: Any) -> Any:
    from fastapi.testclient import TestClient

    from core.runtime import Runtime, set_runtime

    s, voice = split_settings(plugins="voice", agent="scripted", voice_preload=False, **settings)
    set_runtime(Runtime(s, engine, lambda: approval_gate(EmailOutbox()), scripted_agent))
    return TestClient(create_voice_app(s, voice))


def test_people_opt_in_over_the_api_only_with_their_own_number(engine):
    from core.runtime import set_runtime
    from tests.core.api_harness import auth

    link_number(engine, "acme", "kim", NUMBER)
    link_number(engine, "acme", "ola", "+15551230043")
    h = auth(engine, "acme", "kim")
    body = {"enabled": True, "number": NUMBER}
    try:
        with _client(engine) as c:
            assert c.get("/callbacks", headers=h).status_code == 404
            refused = c.put("/callbacks", json=body, headers=h)
            assert refused.status_code == 409
            assert "BATON_TWILIO_ACCOUNT_SID" in refused.json()["detail"]
            # Opting out needs nothing configured.
            assert (
                c.put("/callbacks", json={**body, "enabled": False}, headers=h).status_code == 200
            )
        core, voice = _settings("http://127.0.0.1:9")
        with _client(engine, public_url=core.public_url, **voice.model_dump(
            include={"twilio_account_sid", "twilio_auth_token", "twilio_from_number",
                     "twilio_api_url"})) as c:  # fmt: skip
            theirs = c.put("/callbacks", json={**body, "number": "+15551230043"}, headers=h)
            assert theirs.status_code == 422 and "not linked to you" in theirs.json()["detail"]
            late = c.put("/callbacks", json={**body, "quiet_start": "24:30"}, headers=h)
            assert late.status_code == 422 and "not a time of day" in late.json()["detail"]
            # Quiet hours are read in the person's own time zone.
            zone = c.put("/me/preferences", json={"timezone": "Europe/Berlin"}, headers=h)
            assert zone.status_code == 200, zone.text
            kept = c.put("/callbacks", json=body, headers=h)
            assert kept.status_code == 200, kept.text
            assert c.get("/callbacks", headers=h).json() == {
                "enabled": True, "number": NUMBER, "timezone": "Europe/Berlin",
                "quiet_start": "21:00", "quiet_end": "08:00", "server_ready": True,
            }  # fmt: skip
            # Another user sees only their own (none yet).
            assert c.get("/callbacks", headers=auth(engine, "acme", "ola")).status_code == 404
    finally:
        set_runtime(None)
