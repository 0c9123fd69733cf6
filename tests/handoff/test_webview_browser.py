"""End to end in a real browser: a push arrives with a deep link, the phone opens it, reads the
artifact, approves, watches the run complete live, and reads the run's steps from its trace.

Real parts: `baton serve`'s app and in-process workers (scripted agent), the outbox hook and
delivery thread, pywebpush to a local RFC 8030/8291 push service, headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.auth.keys import create_key
from core.store.db import make_engine
from core.store.migrate import upgrade
from handoff.push.vapid import create_vapid_key
from handoff.signing import LINK, Signer
from tests.handoff.conftest import SECRET
from tests.handoff.push_services import WebPushService

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = REPO / "tests" / "browser" / "node_modules" / "playwright-core"
SHOTS = REPO / "test-artifacts"
REPORT = (
    "# Flights to Oslo\n\nCheapest first.\n\n| flight | leaves | price |\n|---|---|---|\n"
    "| SK 4101 | 07:05 | 120 EUR |\n| DY 1302 | 09:40 | 135 EUR |\n| SK 4117 | 18:15 | 160 EUR |\n"
)


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    if shutil.which("node") is None:
        return "node is missing (apt-get install -y nodejs npm)"
    if not PLAYWRIGHT.is_dir():
        return "playwright-core is not installed (npm ci --prefix tests/browser)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"server exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_phone_opens_pushed_link_sees_artifact_approves_and_run_completes(tmp_path):
    missing = _browser_missing()
    if missing:
        print(f"\nSKIP browser test: {missing}")
        pytest.skip(missing)
    data = tmp_path / "data"
    create_vapid_key(data / "vapid_private.pem")
    db = f"sqlite:///{tmp_path / 'baton.db'}"
    engine = make_engine(db)
    upgrade(engine)
    key = create_key(engine, "acme", "ann")
    engine.dispose()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BATON_DATA_DIR": str(data),
        "BATON_DATABASE_URL": db,
        "BATON_HOST": "127.0.0.1",
        "BATON_PORT": str(port),
        "BATON_PUBLIC_URL": base,
        "BATON_HANDOFF_SECRET": SECRET,
        "BATON_WEBPUSH_ALLOW_HTTP": "true",
        "BATON_PLUGINS": "handoff",
        "BATON_AGENT": "scripted",
        "BATON_PUSH_POLL_SECONDS": "0.1",
        "BATON_WORKER_POLL_SECONDS": "0.05",
    }
    push = WebPushService().start()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.handoff.serve_webview"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        _wait(lambda: _healthy(base), 60, "the server", server)
        auth = {"Authorization": f"Bearer {key}"}
        phone = push.subscribe()
        device = httpx.post(
            f"{base}/devices", json={"subscription": phone.subscription_json()}, headers=auth
        )
        assert device.status_code == 201, device.text
        script = [
            {"type": "tool_call", "tool": "save_artifact",
             "arguments": {"name": "Flights to Oslo", "content": REPORT, "kind": "table"}},
            {"type": "tool_call", "tool": "email.send",
             "arguments": {"to": "bob@example.com", "body": "the flights"}},
            {"type": "respond", "message": "Sent the flights to Bob."},
        ]  # fmt: skip
        run = httpx.post(
            f"{base}/runs",
            json={"goal": "find flights to Oslo and mail Bob", "channel": "voice",
                  "meta": {"script": script}},
            headers=auth,
        ).json()  # fmt: skip
        _wait(lambda: len(push.received) >= 2, 30, "two pushes (artifact, approval)", server)
        kinds = {m.payload["data"]["kind"]: m.payload for m in push.received}
        assert set(kinds) == {"artifact", "approval"} and push.rejected == []
        link = kinds["artifact"]["link"]
        assert link.startswith(f"{base}/app/link?t=")

        token = parse_qs(urlsplit(link).query)["t"][0]
        body, mac = token.split(".")
        tampered = f"{base}/app/link?t={body}.{mac[:-3]}{'AAA' if mac[-3:] != 'AAA' else 'BBB'}"
        old = Signer(SECRET.encode()).issue(LINK, "acme", "ann", -60, runs=[run["run_id"]])
        SHOTS.mkdir(exist_ok=True)
        cfg = {
            "chromium": CHROMIUM, "base": base, "link": link, "tampered": tampered,
            "expired": f"{base}/app/link?t={old}",
            "shots": {
                "artifact": str(SHOTS / "handoff-phone-artifact.png"),
                "approval": str(SHOTS / "handoff-phone-approval.png"),
                "completed": str(SHOTS / "handoff-phone-completed.png"),
                "full": str(SHOTS / "handoff-phone-completed-full.png"),
                "trace": str(tmp_path / "handoff-phone-trace.png"),
            },
        }  # fmt: skip
        done = subprocess.run(
            ["node", str(REPO / "tests" / "handoff" / "webview.mjs"), json.dumps(cfg)],
            capture_output=True, text=True, timeout=150,
        )  # fmt: skip
        lines = done.stdout.strip().splitlines()
        assert lines, done.stderr
        seen = json.loads(lines[-1])
        print("\nbrowser:", json.dumps({k: v for k, v in seen.items() if k != "steps"}))
        assert seen["ok"], seen.get("error")
        assert (
            seen["url_after_link"]
            == f"{base}/app/runs/{run['run_id']}#" + (kinds["artifact"]["data"]["artifact_id"])
        )
        assert seen["artifact_has_table"] and "SK 4101" in seen["artifact_text"]
        assert seen["question"].startswith("Should I email send")
        assert (seen["status_before"], seen["status_after"]) == ("waiting_for_human", "completed")
        assert seen["result"] == "Sent the flights to Bob."
        assert "ApprovalGranted" in seen["timeline"] and "RunCompleted" in seen["timeline"]
        assert seen["service_worker"] == f"{base}/app/"
        assert seen["tampered_status"] == 403 and "signature" in seen["tampered_text"]
        assert seen["expired_status"] == 403 and "expired" in seen["expired_text"]
        assert seen["stranger_sees_sign_in"]
        for shot in cfg["shots"].values():
            assert Path(shot).stat().st_size > 10_000
        assert Path(cfg["shots"]["trace"]).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        # Every step shows its duration; the model call its model, tokens, latency and cost.
        assert seen["trace_steps"] and all(
            re.fullmatch(r"Step \d+ · [\d.]+ (ms|s)", t) for t in seen["trace_steps"]
        ), seen["trace_steps"]
        lines = seen["trace_lines"]
        assert "Model openai/gpt-4o-mini · 812 → 23 tokens · 41.5 ms · $0.0002" in lines, lines
        assert "Understood by the model: email.send (87% sure)" in lines, lines
        assert any(
            re.fullmatch(r"Tool email\.send · [\d.]+ m?s · succeeded, approved", t) for t in lines
        )
        assert "Proposed email.send: needs your approval" in lines and "Approval asked" in lines
        assert seen["trace_cost"].startswith("Model cost in total: $0.000")
        assert seen["horizontal_overflow"] <= 0
        final = httpx.get(f"{base}/runs/{run['run_id']}/approvals", headers=auth).json()
        assert [(a["status"], a["channel"]) for a in final] == [("approved", "web")]
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        push.stop()
