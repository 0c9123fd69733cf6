"""FCM through firebase-admin and Web Push through pywebpush, each against a local peer that
speaks the real protocol (OAuth JWT grant + FCM v1; VAPID + RFC 8291 encryption)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from handoff.push.base import DeviceGone, Notification, TransientFailure

NOTE = Notification(
    title="Ready: Flights",
    body="Tap to read it and continue the run.",
    link="https://baton.example/app/link?t=abc.def",
    dedup_key="artifact:art_1",
    data={"kind": "artifact", "run_id": "run_1", "artifact_id": "art_1"},
)


def test_fcm_send_authenticates_with_the_service_account_and_sends_a_v1_message(
    fcm_sender, fcm_service
):
    name = fcm_sender.send({"address": "device-token-1"}, NOTE)
    assert name.startswith("projects/baton-test/messages/")
    fcm_sender.send({"address": "device-token-2"}, NOTE)
    assert fcm_service.rejected == []
    assert fcm_service.tokens_issued == 1  # the OAuth token is reused until it expires
    first = fcm_service.received[0]
    assert not first.validate_only  # a real send, not a dry run
    msg = first.message
    assert msg["token"] == "device-token-1"
    assert msg["notification"] == {"title": NOTE.title, "body": NOTE.body}
    assert msg["data"]["link"] == NOTE.link and msg["data"]["artifact_id"] == "art_1"
    assert msg["android"]["collapse_key"] == NOTE.tag
    assert msg["apns"]["headers"]["apns-collapse-id"] == NOTE.tag
    assert msg["webpush"]["headers"]["Topic"] == NOTE.topic
    assert msg["webpush"]["fcm_options"]["link"] == NOTE.link


def test_fcm_unregistered_token_and_outage_are_told_apart(fcm_sender, fcm_service):
    fcm_service.unregistered.add("dead-token")
    with pytest.raises(DeviceGone):
        fcm_sender.send({"address": "dead-token"}, NOTE)
    fcm_service.fail_next = 1
    with pytest.raises(TransientFailure):
        fcm_sender.send({"address": "live-token"}, NOTE)
    fcm_sender.send({"address": "live-token"}, NOTE)
    assert [m.token for m in fcm_service.received] == ["live-token"]


def test_web_push_is_vapid_signed_and_encrypted_for_the_subscription(
    webpush_sender, webpush_service
):
    sub = webpush_service.subscribe()
    js = sub.subscription_json()
    location = webpush_sender.send({"address": js["endpoint"], "keys_json": js["keys"]}, NOTE)
    assert location.startswith(webpush_service.base + "/msg/")
    assert webpush_service.rejected == []
    (msg,) = webpush_service.received
    assert msg.payload == NOTE.payload()  # decrypted with the subscription's private key
    assert msg.topic == NOTE.topic and msg.ttl > 0
    assert msg.vapid_public_key  # the VAPID JWT verified against this key


def test_web_push_expired_subscription_is_device_gone(webpush_sender, webpush_service):
    sub = webpush_service.subscribe()
    js = sub.subscription_json()
    webpush_service.gone.add(js["endpoint"].rsplit("/", 1)[1])
    with pytest.raises(DeviceGone):
        webpush_sender.send({"address": js["endpoint"], "keys_json": js["keys"]}, NOTE)


def test_baton_keys_vapid_creates_a_key_once(tmp_path, monkeypatch):
    from core.cli.main import app

    target = tmp_path / "vapid.pem"
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "vapid", "--path", str(target), "--json"])
    assert made.exit_code == 0, made.output
    out = json.loads(made.stdout)
    assert out["private_key_file"] == str(target) and len(out["public_key"]) == 87
    assert (target.stat().st_mode & 0o777) == 0o600
    again = runner.invoke(app, ["keys", "vapid", "--path", str(target)])
    assert again.exit_code == 1 and "exists" in again.output
    forced = runner.invoke(app, ["keys", "vapid", "--path", str(target), "--force", "--json"])
    assert forced.exit_code == 0 and json.loads(forced.stdout)["public_key"] != out["public_key"]
