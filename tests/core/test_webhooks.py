"""Signed webhooks on SQLite and Postgres: subscriptions through the API and the CLI, events
POSTed to a real local HTTP receiver that checks signatures and dedupes by delivery id,
retries and disabling, and a sender killed between sending and recording."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from core.auth.keys import create_key
from core.cli.main import app as baton
from core.config import Settings, get_settings
from core.ids import utcnow
from core.runs.log import RunWriter, unregister_tx_hook
from core.runs.service import RunStore
from core.runtime import get_runtime
from core.tools.spec import RiskLevel
from core.webhooks.background import start_background_delivery, stop_background_delivery
from core.webhooks.delivery import DeliveryReport, WebhookDelivery
from core.webhooks.outbox import outbox_hook, register_outbox
from core.webhooks.signing import verify
from tests.contacts.serving import serve
from tests.core.api_harness import api, auth
from tests.core.helpers import bump_spec, drive, ensure_side_effects, gate_with

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes

    @property
    def delivery_id(self) -> str:
        return self.headers["baton-delivery-id"]

    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class Receiver:
    """A webhook receiver on a free loopback port, as a subscriber would write one: it checks
    the signature and handles each delivery id once."""

    def __init__(self) -> None:
        self.status = 200
        self.requests: list[Received] = []
        self.handled: dict[str, dict[str, Any]] = {}
        self.before_answer: Callable[[], None] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got = Received({k.lower(): v for k, v in self.headers.items()}, body)
                with lock:
                    receiver.requests.append(got)
                    if receiver.status < 300:
                        receiver.handled.setdefault(got.delivery_id, got.event())
                hook, receiver.before_answer = receiver.before_answer, None
                if hook is not None:
                    hook()
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone

            def log_message(self, format: str, *args: Any) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/baton"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def outbox() -> Iterator[None]:
    """Deliveries are queued with the events, as in every Baton process."""
    register_outbox()
    try:
        yield
    finally:
        unregister_tx_hook(outbox_hook)


def signed_by(secret: str, request: Received) -> bool:
    """The documented scheme, recomputed independently: v1=HMAC-SHA256(secret, "ts.body")."""
    timestamp = request.headers["baton-timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    scheme, _, given = request.headers["baton-signature"].partition("=")
    return scheme == "v1" and hmac.compare_digest(given, expected)


def manager(engine: Engine, tenant: str, user: str) -> dict[str, str]:
    """Headers with a fresh key of a user who may manage the tenant's webhooks."""
    return {"Authorization": f"Bearer {create_key(engine, tenant, user, ['webhooks:manage'])}"}


def subscribe(c: TestClient, headers: dict[str, str], url: str, *events: str) -> dict[str, Any]:
    made = c.post("/webhooks", json={"url": url, "events": list(events)}, headers=headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


def finish_run(engine: Engine, settings: Settings, tenant: str, user: str, goal: str) -> str:
    """A run executed by the real step code until it completes."""
    run = RunStore(engine, settings).create_run(tenant, user, goal)
    drive(engine, gate_with())
    assert RunStore(engine, settings).get_run(tenant, user, run["run_id"])["status"] == "completed"
    return str(run["run_id"])


def deliver(engine: Engine, settings: Settings, after_s: float = 0) -> DeliveryReport:
    now = utcnow() + timedelta(seconds=after_s)
    return asyncio.run(WebhookDelivery(engine, settings).run_once(now=now))


def log_of(c: TestClient, headers: dict[str, str], webhook_id: str) -> list[dict[str, Any]]:
    got = c.get(f"/webhooks/{webhook_id}/deliveries", headers=headers)
    assert got.status_code == 200, got.text
    return list(got.json())


def test_a_subscribed_event_arrives_once_signed_and_only_to_its_tenant(
    engine, outbox, receiver, other_receiver
):
    with api(engine, gate_with(), webhook_allow_private=True) as c:
        settings = get_runtime().settings
        ann = manager(engine, "acme", "ann")
        hook = subscribe(c, ann, receiver.url, "run.completed", "artifact.created")
        assert hook["secret"].startswith("whsec_") and hook["status"] == "active"
        failures = subscribe(c, ann, receiver.url, "run.failed")
        stranger = subscribe(
            c, manager(engine, "globex", "gus"), other_receiver.url, "run.completed"
        )
        assert "secret" not in c.get(f"/webhooks/{hook['webhook_id']}", headers=ann).json()

        run_id = finish_run(engine, settings, "acme", "bob", "say hello")
        report = deliver(engine, settings)
        assert (report.delivered, report.retried, report.failed) == (1, 0, 0)
        assert deliver(engine, settings, after_s=3600).handled == 0

        [request] = receiver.requests
        assert signed_by(hook["secret"], request)
        assert not signed_by(stranger["secret"], request)
        stamp, sig = request.headers["baton-timestamp"], request.headers["baton-signature"]
        assert verify(hook["secret"], stamp, sig, request.body)
        assert not verify(hook["secret"], stamp, sig, request.body + b" ")
        # A captured request replayed later is refused by its timestamp.
        assert not verify(hook["secret"], stamp, sig, request.body, now=int(stamp) + 3600)
        assert request.headers["idempotency-key"] == request.delivery_id
        event = request.event()
        assert event["id"] == request.delivery_id and event["type"] == "run.completed"
        assert event["tenant_id"] == "acme"
        assert event["data"]["run_id"] == run_id and event["data"]["user_id"] == "bob"
        assert event["data"]["result"] == "You said: say hello"
        assert list(receiver.handled) == [request.delivery_id]
        assert other_receiver.requests == []

        [entry] = log_of(c, ann, hook["webhook_id"])
        assert entry["delivery_id"] == request.delivery_id and entry["status"] == "delivered"
        assert entry["attempts"] == 1 and entry["last_status_code"] == 200
        assert entry["delivered_at"] is not None and entry["event"] == "run.completed"
        assert log_of(c, ann, failures["webhook_id"]) == []


def test_a_receiver_answering_500_is_retried_then_the_webhook_is_disabled(engine, outbox, receiver):
    with api(
        engine,
        gate_with(),
        webhook_max_attempts=2,
        webhook_disable_after=2,
        webhook_allow_private=True,
    ) as c:
        settings = get_runtime().settings
        ann = manager(engine, "acme", "ann")
        hook = subscribe(c, ann, receiver.url, "run.completed")
        receiver.status = 500
        for goal in ("first", "second"):
            finish_run(engine, settings, "acme", "ann", goal)

        assert deliver(engine, settings).retried == 2
        log = log_of(c, ann, hook["webhook_id"])
        assert {(d["status"], d["attempts"], d["last_status_code"]) for d in log} == {
            ("pending", 1, 500)
        }
        assert all(d["next_attempt_at"] for d in log)
        assert c.get(f"/webhooks/{hook['webhook_id']}", headers=ann).json()["status"] == "active"
        # Not due yet: the retry waits for its backoff.
        assert deliver(engine, settings).handled == 0

        assert deliver(engine, settings, after_s=3600).failed == 2
        assert len(receiver.requests) == 4
        assert len({r.delivery_id for r in receiver.requests}) == 2
        shown = c.get(f"/webhooks/{hook['webhook_id']}", headers=ann).json()
        assert shown["status"] == "disabled" and shown["disabled_at"] is not None
        assert "2 deliveries in a row failed" in shown["disabled_reason"]
        assert "HTTP 500" in shown["disabled_reason"]
        assert {d["status"] for d in log_of(c, ann, hook["webhook_id"])} == {"failed"}

        # A disabled webhook hears nothing more until it is turned back on.
        finish_run(engine, settings, "acme", "ann", "third")
        assert len(log_of(c, ann, hook["webhook_id"])) == 2
        receiver.status = 200
        on = c.post(f"/webhooks/{hook['webhook_id']}/enable", headers=ann).json()
        assert on["status"] == "active" and on["disabled_reason"] is None
        finish_run(engine, settings, "acme", "ann", "fourth")
        assert deliver(engine, settings).delivered == 1
        assert len(receiver.handled) == 1


def test_a_sender_killed_between_sending_and_recording_resends_the_same_delivery(
    engine, database_url, outbox, receiver, tmp_path
):
    settings = Settings(plugins="none", agent="scripted", webhook_allow_private=True)
    with api(engine, gate_with(), webhook_allow_private=True) as c:
        ann = manager(engine, "acme", "ann")
        hook = subscribe(c, ann, receiver.url, "run.completed")
    finish_run(engine, settings, "acme", "ann", "book the table")

    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BATON_DATABASE_URL": database_url,
        "BATON_DATA_DIR": str(tmp_path),
        "BATON_WEBHOOK_POLL_SECONDS": "0.05",
        "BATON_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.core.webhook_sender"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip

    def kill_sender() -> None:
        # The request has arrived: the sender dies before it can hear the answer or record it.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    receiver.before_answer = kill_sender
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the sender process sent nothing"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate(timeout=10)[0].decode(errors="replace")
    assert len(receiver.requests) == 1, out
    with engine.connect() as conn:
        left = conn.execute(text("select status, attempts from webhook_deliveries")).one()
    assert tuple(left) == ("sending", 1)

    # Nobody else may send it while the dead sender's lease holds ...
    assert deliver(engine, settings).handled == 0
    # ... and once it has run out, it goes again under the same delivery id.
    lease = WebhookDelivery(engine, settings).lease_seconds
    assert deliver(engine, settings, after_s=lease + 1).delivered == 1
    first, again = receiver.requests
    assert first.delivery_id == again.delivery_id
    assert first.body == again.body
    assert signed_by(hook["secret"], first) and signed_by(hook["secret"], again)
    assert list(receiver.handled) == [first.delivery_id]  # the receiver handled it once
    with engine.connect() as conn:
        done = conn.execute(text("select status, attempts from webhook_deliveries")).one()
    assert tuple(done) == ("delivered", 2)


def test_the_background_sender_delivers_failures_and_approvals(engine, outbox, receiver):
    settings = Settings(
        plugins="none", agent="scripted", webhook_poll_seconds=0.05, webhook_allow_private=True
    )
    with api(engine, gate_with(), webhook_allow_private=True) as c:
        ann = manager(engine, "acme", "ann")
        hook = subscribe(c, ann, receiver.url, "run.failed", "run.waiting_for_approval")
    store = RunStore(engine, settings)
    failing = store.create_run("acme", "ann", "something")
    with engine.begin() as conn:
        w = RunWriter.open(conn, failing["run_id"])
        w.emit("RunFailed", {"reason": "the calendar is unreachable"})
        w.flush()
    script = [{"type": "tool_call", "tool": "counter.bump", "arguments": {"n": 7}}]
    asking = store.create_run("acme", "ann", "bump it", meta={"script": script})
    ensure_side_effects(engine)
    drive(engine, gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT)))

    start_background_delivery(engine, settings)
    try:
        deadline = time.monotonic() + 30
        while len(receiver.handled) < 2:
            assert time.monotonic() < deadline, f"the sender sent {len(receiver.handled)} of 2"
            time.sleep(0.02)
    finally:
        stop_background_delivery()
    events = {e["type"]: e for e in receiver.handled.values()}
    assert events["run.failed"]["data"] == {
        "run_id": failing["run_id"],
        "user_id": "ann",
        "reason": "the calendar is unreachable",
    }
    approval = events["run.waiting_for_approval"]["data"]
    assert approval["run_id"] == asking["run_id"] and approval["tool"] == "counter.bump"
    assert approval["arguments"] == {"n": 7} and approval["approval_id"]
    assert all(signed_by(hook["secret"], r) for r in receiver.requests)


def test_bad_input_is_refused_with_a_reason(engine):
    with api(engine, gate_with(), webhook_allow_private=True) as c:
        ann = manager(engine, "acme", "ann")
        for url in ("ftp://example.com/hook", "javascript:alert(1)", "example.com/hook"):
            refused = c.post(
                "/webhooks", json={"url": url, "events": ["run.completed"]}, headers=ann
            )
            assert refused.status_code == 422, (url, refused.text)
            assert "http:// or https://" in refused.json()["detail"]
        unknown = c.post(
            "/webhooks",
            json={"url": "https://example.com/h", "events": ["run.completed", "run.exploded"]},
            headers=ann,
        )
        assert unknown.status_code == 422
        assert "unknown event type 'run.exploded'" in unknown.json()["detail"]
        empty = c.post(
            "/webhooks", json={"url": "https://example.com/h", "events": []}, headers=ann
        )
        assert empty.status_code == 422
        assert c.get("/webhooks", headers=ann).json() == []

        mine = subscribe(c, ann, "https://example.com/h", "run.completed")
        gus = manager(engine, "globex", "gus")
        path = f"/webhooks/{mine['webhook_id']}"
        assert c.get(path, headers=gus).status_code == 404
        assert c.get(f"{path}/deliveries", headers=gus).status_code == 404
        assert c.post(f"{path}/enable", headers=gus).status_code == 404
        assert c.delete(path, headers=gus).status_code == 404
        assert c.get("/webhooks", headers=gus).json() == []
        assert c.get(path, headers=manager(engine, "acme", "bob")).status_code == 200

        cy = auth(engine, "acme", "cy")
        with engine.begin() as conn:
            conn.execute(
                text("update users set scopes = :s where user_id = 'cy'"), {"s": '["notes:read"]'}
            )
        forbidden = c.get("/webhooks", headers=cy)
        assert forbidden.status_code == 403 and "webhooks:manage" in forbidden.json()["detail"]
        # A feed of every user's runs is never a default: a user without a list has no say.
        unlisted = c.get("/webhooks", headers=auth(engine, "acme", "dee"))
        assert unlisted.status_code == 403

        gone = c.delete(path, headers=ann)
        assert gone.status_code == 200 and gone.json()["deleted"] is True
        assert c.get(path, headers=ann).status_code == 404


def test_replaying_the_idempotency_key_returns_the_same_webhook(engine):
    with api(engine, gate_with(), webhook_allow_private=True) as c:
        ann = {**manager(engine, "acme", "ann"), "Idempotency-Key": "k-1"}
        body = {"url": "https://example.com/h", "events": ["run.completed"]}
        first = c.post("/webhooks", json=body, headers=ann)
        again = c.post("/webhooks", json=body, headers=ann)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json()
        other = c.post("/webhooks", json={**body, "url": "https://example.com/x"}, headers=ann)
        assert other.status_code == 409
        assert len(c.get("/webhooks", headers=ann).json()) == 1


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of an admin of acme, with a real server on the test database."""
    with serve(engine, Settings(plugins="none", agent="scripted")) as url:
        env = {
            "BATON_URL": url,
            "BATON_API_KEY": create_key(engine, "acme", "ann", ["webhooks:manage"]),
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield env
        finally:
            get_settings.cache_clear()


def test_the_cli_adds_lists_shows_deliveries_and_removes(cli, receiver):
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(baton, ["webhooks", *args], env=cli)

    added = run("add", receiver.url, "-e", "run.completed", "--event", "run.failed", "--json")
    assert added.exit_code == 0, added.output
    made = json.loads(added.stdout)
    assert made["secret"].startswith("whsec_") and made["events"] == [
        "run.completed",
        "run.failed",
    ]
    listed = run("list", "--json")
    assert [w["webhook_id"] for w in json.loads(listed.stdout)] == [made["webhook_id"]]
    assert made["webhook_id"] in run("list").stdout
    assert json.loads(run("deliveries", made["webhook_id"], "--json").stdout) == []

    bad = run("add", "ftp://example.com/h", "-e", "run.completed")
    assert bad.exit_code == 1 and "http:// or https://" in bad.output
    unknown = run("add", receiver.url, "-e", "run.done")
    assert unknown.exit_code == 1 and "unknown event type 'run.done'" in unknown.output
    missing = run("deliveries", "wh_nope")
    assert missing.exit_code == 1 and "no webhook 'wh_nope'" in missing.output

    removed = run("remove", made["webhook_id"], "--yes")
    assert removed.exit_code == 0, removed.output
    assert json.loads(run("list", "--json").stdout) == []


def test_a_webhook_aimed_at_a_private_address_is_never_posted_to(engine, outbox, receiver):
    with api(engine, gate_with()) as c:
        settings = get_runtime().settings
        ann = manager(engine, "acme", "ann")
        hook = subscribe(c, ann, receiver.url, "run.completed")
        finish_run(engine, settings, "acme", "ann", "hello")
        assert deliver(engine, settings).retried == 1
        assert receiver.requests == []
        (entry,) = log_of(c, ann, hook["webhook_id"])
        assert "not a public address" in entry["last_error"]
