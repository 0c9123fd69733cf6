"""The push outbox: queued with the event, delivered once per device, survives crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from core.artifacts.service import create_artifact, list_artifacts
from core.ids import utcnow
from core.runs.log import RunWriter
from core.runs.service import RunStore
from handoff.devices import DEVICES, OUTBOX, DeviceIn, list_devices, register_device
from handoff.push.delivery import PushDelivery
from handoff.push.outbox import outbox_hook
from handoff.signing import LINK
from handoff.web.session import signer
from tests.core.helpers import drive
from tests.handoff.conftest import handoff_gate

REPO = Path(__file__).resolve().parents[2]


def _devices(engine, handoff_settings, webpush_service, user="ann"):
    fcm, _ = register_device(
        engine, handoff_settings, "acme", user, DeviceIn(token=f"fcm-token-{user}", label="phone")
    )
    sub = webpush_service.subscribe()
    web, _ = register_device(
        engine, handoff_settings, "acme", user, DeviceIn(subscription=sub.subscription_json())
    )
    return fcm, web, sub


def _artifact(engine, settings, run_id, key="report-1"):
    return create_artifact(
        engine, tenant_id="acme", user_id="ann", run_id=run_id, name="Flights",
        content_type="text/markdown", data=b"# Flights\n", idempotency_key=key,
        settings=settings,
    )  # fmt: skip


def _outbox(engine):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(OUTBOX).order_by(OUTBOX.c.created_at))
                .mappings()]  # fmt: skip


def _delivery(engine, settings, handoff_settings, fcm_sender, webpush_sender, **kw):
    senders = {"fcm": fcm_sender, "webpush": webpush_sender}
    signs = signer(settings, handoff_settings)
    return PushDelivery(engine, settings, handoff_settings, senders, signs, **kw)


def test_an_artifact_queues_one_push_per_device_in_its_own_transaction(
    engine, settings, handoff_settings, webpush_service, outbox_on
):
    fcm, web, _ = _devices(engine, handoff_settings, webpush_service)
    _devices(engine, handoff_settings, webpush_service, user="bob")
    store = RunStore(engine, settings)
    run = store.create_run("acme", "ann", "find flights")

    # An artifact whose transaction fails leaves neither the artifact nor a push behind.
    with pytest.raises(RuntimeError), engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])
        create_artifact(
            engine, tenant_id="acme", user_id="ann", run_id=run["run_id"], name="Lost",
            content_type="text/plain", data=b"x", idempotency_key="lost", writer=w,
            settings=settings,
        )  # fmt: skip
        w.flush()
        raise RuntimeError("the step failed after the artifact")
    assert _outbox(engine) == []
    assert list_artifacts(engine, tenant_id="acme", user_id="ann", run_id=run["run_id"]) == []

    art = _artifact(engine, settings, run["run_id"])
    _artifact(engine, settings, run["run_id"])  # a replay queues nothing new
    rows = _outbox(engine)
    assert sorted(r["device_id"] for r in rows) == sorted([fcm["device_id"], web["device_id"]])
    assert {r["dedup_key"] for r in rows} == {f"artifact:{art['artifact_id']}"}
    assert all(r["status"] == "pending" and r["user_id"] == "ann" for r in rows)
    # Seeing the same event again (a redelivered hook) is absorbed by the unique key.
    event = {"type": "ArtifactCreated", "run_id": run["run_id"], "tenant_id": "acme",
             "user_id": "ann", "seq": 99, "data": {"artifact_id": art["artifact_id"]}}  # fmt: skip
    with engine.begin() as conn:
        outbox_hook(conn, [event])
    assert len(_outbox(engine)) == 2
    # Voice's "the rest went to your phone" names the same artifact: still one push each.
    with engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])
        w.emit("HandoffRequested", {"artifact_id": art["artifact_id"], "channel": "voice"})
        w.flush()
    assert len(_outbox(engine)) == 2


def test_delivery_sends_each_push_once_with_a_signed_deep_link(
    engine,
    settings,
    handoff_settings,
    fcm_sender,
    fcm_service,
    webpush_sender,
    webpush_service,
    outbox_on,
):
    _, _, _sub = _devices(engine, handoff_settings, webpush_service)
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    art = _artifact(engine, settings, run["run_id"])
    # Creating the artifact did not wait on any push service.
    assert fcm_service.received == [] and webpush_service.received == []

    report = _delivery(engine, settings, handoff_settings, fcm_sender, webpush_sender).run_once()
    assert (report.delivered, report.failed, report.errors) == (2, 0, [])
    assert (
        _delivery(engine, settings, handoff_settings, fcm_sender, webpush_sender).run_once().handled
        == 0
    )
    (fcm_msg,) = fcm_service.received
    (web_msg,) = webpush_service.received
    assert fcm_msg.token == "fcm-token-ann"
    assert fcm_msg.message["data"]["artifact_id"] == art["artifact_id"]
    assert web_msg.payload["data"]["artifact_id"] == art["artifact_id"]
    link = web_msg.payload["link"]
    assert link.startswith("http://testserver/app/link?t=") and "bk_" not in link
    claims = signer(settings, handoff_settings).verify(parse_qs(urlsplit(link).query)["t"][0], LINK)
    assert (claims.tenant_id, claims.user_id, claims.runs) == ("acme", "ann", (run["run_id"],))
    assert claims.extra["focus"] == art["artifact_id"]
    assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in _outbox(engine))


def test_approvals_and_questions_are_pushed_too(
    engine, settings, handoff_settings, webpush_service, outbox_on
):
    _devices(engine, handoff_settings, webpush_service)
    store = RunStore(engine, settings)
    script = [{"type": "tool_call", "tool": "email.send", "arguments": {"to": "bob@example.com"}}]
    run = store.create_run("acme", "ann", "mail bob", meta={"script": script})
    drive(engine, handoff_gate(settings))
    approval = store.pending_approval("acme", "ann", run["run_id"])
    assert approval is not None
    rows = _outbox(engine)
    assert {r["dedup_key"] for r in rows} == {f"approval:{approval['approval_id']}"}
    assert rows[0]["payload"]["body"] == approval["question"]


def test_unregistered_devices_are_removed(
    engine,
    settings,
    handoff_settings,
    fcm_sender,
    fcm_service,
    webpush_sender,
    webpush_service,
    outbox_on,
):
    _fcm, _web, sub = _devices(engine, handoff_settings, webpush_service)
    fcm_service.unregistered.add("fcm-token-ann")
    webpush_service.gone.add(sub.endpoint.rsplit("/", 1)[1])
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    _artifact(engine, settings, run["run_id"])
    report = _delivery(engine, settings, handoff_settings, fcm_sender, webpush_sender).run_once()
    assert report.dropped == 2
    assert list_devices(engine, "acme", "ann") == []
    assert {r["status"] for r in _outbox(engine)} == {"dropped"}
    _artifact(engine, settings, run["run_id"], key="report-2")
    assert len(_outbox(engine)) == 2  # nothing queued for the removed devices


def test_an_outage_is_retried_with_backoff_then_delivered(
    engine, settings, handoff_settings, fcm_sender, fcm_service, webpush_sender, outbox_on
):
    register_device(engine, handoff_settings, "acme", "ann", DeviceIn(token="fcm-token-ann"))
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    _artifact(engine, settings, run["run_id"])
    fcm_service.fail_next = 2  # more than one pass's quick retries
    delivery = _delivery(
        engine, settings, handoff_settings, fcm_sender, webpush_sender, quick_retries=2
    )
    first = delivery.run_once()
    assert (first.retried, first.delivered) == (1, 0)
    (row,) = _outbox(engine)
    assert row["status"] == "pending" and row["attempts"] == 1 and "FCM" in row["last_error"]
    assert row["next_attempt_at"] > utcnow() + timedelta(seconds=3)
    assert delivery.run_once().handled == 0  # not due yet
    later = delivery.run_once(now=row["next_attempt_at"] + timedelta(seconds=1))
    assert later.delivered == 1
    (row,) = _outbox(engine)
    assert row["status"] == "delivered" and row["attempts"] == 2
    assert len(fcm_service.received) == 1


def test_a_push_service_that_keeps_failing_is_given_up(
    engine, settings, handoff_settings, fcm_sender, fcm_service, webpush_sender, outbox_on
):
    register_device(engine, handoff_settings, "acme", "ann", DeviceIn(token="fcm-token-ann"))
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    _artifact(engine, settings, run["run_id"])
    fcm_service.fail_next = 1000
    few = handoff_settings.model_copy(update={"push_max_attempts": 2})
    delivery = _delivery(engine, settings, few, fcm_sender, webpush_sender, quick_retries=1)
    now = utcnow()
    for hour in range(3):
        delivery.run_once(now=now + timedelta(hours=hour))
    (row,) = _outbox(engine)
    assert row["status"] == "failed" and row["attempts"] == 2
    assert "gave up after 2 attempts" in row["last_error"]


def test_a_crash_between_send_and_mark_still_shows_one_notification(
    engine, database_url, settings, handoff_settings, tmp_path, fcm_service, fcm_sender,
    webpush_sender, webpush_service, outbox_on,
):  # fmt: skip
    """SIGKILL the delivery process after the push service accepted a message but before the
    answer came back; the next worker re-sends it under the same collapse key / Topic / tag,
    so the phone and the browser each still show exactly one notification for the artifact."""
    _fcm, _web, _sub = _devices(engine, handoff_settings, webpush_service)
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    art = _artifact(engine, settings, run["run_id"])
    fcm_service.release.clear()
    webpush_service.release.clear()
    env = {
        **os.environ,
        "BATON_DATABASE_URL": database_url,
        "BATON_DATA_DIR": str(settings.data_dir),
        "BATON_HANDOFF_SECRET": handoff_settings.handoff_secret or "",
        "BATON_PUBLIC_URL": "http://testserver",
        "BATON_PUSH_LEASE_SECONDS": "30",
        "PYTHONPATH": str(REPO),
    }
    account = fcm_service.service_account_file(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.handoff.delivery_proc", str(account), fcm_service.base],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (fcm_service.received or webpush_service.received):
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "the delivery process sent nothing"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        fcm_service.release.set()
        webpush_service.release.set()
    sent_before = len(fcm_service.received) + len(webpush_service.received)
    assert sent_before == 1  # the first message reached its service; its answer never did
    assert any(r["status"] == "sending" for r in _outbox(engine))

    later = utcnow() + timedelta(seconds=31)  # after the dead worker's lease
    report = _delivery(engine, settings, handoff_settings, fcm_sender, webpush_sender).run_once(
        now=later
    )
    assert report.delivered == 2
    assert (
        _delivery(engine, settings, handoff_settings, fcm_sender, webpush_sender)
        .run_once(now=later)
        .handled
        == 0
    )
    assert {r["status"] for r in _outbox(engine)} == {"delivered"}
    # At most one transmission was repeated, and it carried the same collapse identifiers.
    transmissions = len(fcm_service.received) + len(webpush_service.received)
    assert transmissions == 3
    assert len({m.collapse_key for m in fcm_service.received}) == 1
    assert len({m.topic for m in webpush_service.received}) == 1
    assert len({m.payload["tag"] for m in webpush_service.received}) == 1
    # What the person sees: one notification per device for this artifact.
    assert [len(v) for v in fcm_service.displayed.values()] == [1]
    assert [len(v) for v in webpush_service.displayed.values()] == [1]
    shown = next(iter(webpush_service.displayed.values()))
    assert next(iter(shown.values()))["data"]["artifact_id"] == art["artifact_id"]


def test_devices_are_kept_per_user(engine, handoff_settings, webpush_service):
    first, created = register_device(engine, handoff_settings, "acme", "ann", DeviceIn(token="tok"))
    again, created_again = register_device(
        engine, handoff_settings, "acme", "ann", DeviceIn(token="tok")
    )
    assert created and not created_again and again["device_id"] == first["device_id"]
    register_device(engine, handoff_settings, "acme", "bob", DeviceIn(token="tok"))
    with engine.connect() as conn:
        owners = sorted(r[0] for r in conn.execute(select(DEVICES.c.user_id)))
    assert owners == ["ann", "bob"]


def test_baton_push_deliver_once_sends_what_is_queued(
    engine, database_url, settings, handoff_settings, webpush_sender, webpush_service, outbox_on
):
    sub = webpush_service.subscribe()
    register_device(
        engine, handoff_settings, "acme", "ann", DeviceIn(subscription=sub.subscription_json())
    )
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    _artifact(engine, settings, run["run_id"])
    env = {
        **os.environ,
        "BATON_DATABASE_URL": database_url,
        "BATON_DATA_DIR": str(settings.data_dir),
        "BATON_HANDOFF_SECRET": handoff_settings.handoff_secret or "",
        "BATON_PLUGINS": "handoff",
    }
    baton = str(Path(sys.executable).parent / "baton")
    done = subprocess.run(
        [baton, "push", "deliver", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert '"delivered": 1' in done.stdout.strip().splitlines()[-1]
    assert [m.payload["title"] for m in webpush_service.received] == ["Ready: Flights"]
    if engine.dialect.name != "sqlite":
        return  # the refusal below does not depend on the database; check it once
    bare = subprocess.run(
        [baton, "push", "deliver", "--once"],
        env={**env, "BATON_DATA_DIR": str(settings.data_dir / "empty")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bare.returncode == 1 and "no sender is set up" in bare.stderr
