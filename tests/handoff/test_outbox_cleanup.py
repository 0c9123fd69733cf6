"""Housekeeping keeps the push outbox bounded: sent pushes go, failures stay a while."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

import core.runs.log
import core.runtime
import core.tools.providers
from core.agent.scripted import ScriptedAgent
from core.artifacts.service import create_artifact
from core.ids import utcnow
from core.runs.service import RunStore
from core.worker.runner import Worker
from handoff.config import set_handoff_settings
from handoff.devices import OUTBOX, DeviceIn, register_device
from handoff.plugin import HandoffPlugin
from handoff.push.cleanup import OutboxCleanup, purge_outbox
from handoff.push.delivery import PushDelivery
from handoff.web.session import signer
from tests.handoff.conftest import handoff_gate

DAY = timedelta(days=1)


def _statuses(engine):
    with engine.connect() as conn:
        rows = conn.execute(select(OUTBOX.c.status).order_by(OUTBOX.c.status)).scalars()
        return list(rows)


def _announce(engine, settings, run_id, count, start=0):
    for i in range(start, start + count):
        create_artifact(
            engine, tenant_id="acme", user_id="ann", run_id=run_id, name=f"Report {i}",
            content_type="text/plain", data=b"done", idempotency_key=f"report-{i}",
            settings=settings,
        )  # fmt: skip


def test_delivered_pushes_go_after_the_retention_and_failed_ones_stay_longer(
    engine, settings, handoff_settings, webpush_service, fcm_sender, fcm_service, webpush_sender,
    outbox_on,
):  # fmt: skip
    hs = handoff_settings
    sub = webpush_service.subscribe()
    register_device(engine, hs, "acme", "ann", DeviceIn(subscription=sub.subscription_json()))
    register_device(engine, hs, "acme", "ann", DeviceIn(token="fcm-token-ann"))
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    _announce(engine, settings, run["run_id"], 1)
    fcm_service.fail_next = 1000
    once = hs.model_copy(update={"push_max_attempts": 1})
    senders = {"fcm": fcm_sender, "webpush": webpush_sender}
    signs = signer(settings, once)
    PushDelivery(engine, settings, once, senders, signs, quick_retries=1).run_once()
    assert _statuses(engine) == ["delivered", "failed"]
    _announce(engine, settings, run["run_id"], 1, start=1)  # two more, not yet sent
    assert _statuses(engine) == ["delivered", "failed", "pending", "pending"]

    now = utcnow()
    kept = timedelta(seconds=hs.push_retention_seconds)
    assert purge_outbox(engine, hs, now=now + kept - DAY) == 0
    assert purge_outbox(engine, hs, now=now + kept + DAY) == 1
    assert _statuses(engine) == ["failed", "pending", "pending"]
    failed_kept = timedelta(seconds=hs.push_failed_retention_seconds)
    assert failed_kept > kept
    assert purge_outbox(engine, hs, now=now + failed_kept - DAY) == 0
    assert purge_outbox(engine, hs, now=now + failed_kept + DAY) == 1
    # Pushes still to be sent are never cleaned up, however old.
    assert purge_outbox(engine, hs, now=now + 100 * failed_kept) == 0
    assert _statuses(engine) == ["pending", "pending"]


def test_each_pass_deletes_one_bounded_batch(
    engine, settings, handoff_settings, webpush_service, webpush_sender, outbox_on
):
    hs = handoff_settings
    sub = webpush_service.subscribe()
    register_device(engine, hs, "acme", "ann", DeviceIn(subscription=sub.subscription_json()))
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    _announce(engine, settings, run["run_id"], 5)
    senders = {"webpush": webpush_sender}
    PushDelivery(engine, settings, hs, senders, signer(settings, hs)).run_once()
    assert _statuses(engine) == ["delivered"] * 5
    later = utcnow() + timedelta(seconds=hs.push_retention_seconds) + DAY
    passes = [purge_outbox(engine, hs, now=later, batch=2) for _ in range(4)]
    assert passes == [2, 2, 1, 0] and _statuses(engine) == []


@pytest.fixture
def process_registries(monkeypatch):
    """Fresh registries for a plugin's setup_process, restored after the test."""
    monkeypatch.setattr(core.runtime, "_housekeeping", [])
    monkeypatch.setattr(core.runs.log, "_tx_hooks", [])
    monkeypatch.setattr(core.tools.providers, "_providers", [])


def test_a_worker_cleans_the_outbox_in_its_housekeeping(
    runtime, handoff_settings, process_registries
):
    quiet = handoff_settings.model_copy(update={"push_delivery": False})
    set_handoff_settings(quiet)
    HandoffPlugin().setup_process()
    assert any(isinstance(d, OutboxCleanup) for d in core.runtime._housekeeping)
    engine, settings = runtime.engine, runtime.settings
    register_device(engine, quiet, "acme", "ann", DeviceIn(token="fcm-token-ann"))
    run = RunStore(engine, settings).create_run("acme", "ann", "find flights")
    _announce(engine, settings, run["run_id"], 2)
    old = utcnow() - timedelta(seconds=quiet.push_retention_seconds) - DAY
    with engine.begin() as conn:
        first = conn.execute(select(OUTBOX.c.push_id).order_by(OUTBOX.c.dedup_key)).scalar()
        conn.execute(update(OUTBOX).values(status="delivered", delivered_at=utcnow()))
        conn.execute(update(OUTBOX).where(OUTBOX.c.push_id == first).values(delivered_at=old))

    worker = Worker(
        engine, ScriptedAgent, handoff_gate(settings),
        housekeeping=runtime.housekeeping(), housekeeping_every_s=0.05,
    )  # fmt: skip
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while len(_statuses(engine)) == 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    with engine.connect() as conn:
        left = conn.execute(select(OUTBOX.c.push_id)).scalars().all()
    assert len(left) == 1 and first not in left
