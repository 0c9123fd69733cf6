"""The `baton` CLI against a real `baton serve` process, as a person would use it."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest

from tests.core.helpers import BATON, start_serve


@pytest.fixture
def server(tmp_path, database_url):
    env = {
        **os.environ,
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_DATABASE_URL": database_url,
        "BATON_AGENT": "scripted",
        "BATON_PLUGINS": "none",
        "BATON_WORKER_POLL_SECONDS": "0.05",
        "BATON_TOOL_APPROVAL_POLICY": json.dumps({"acme": {"require": ["notes_save"]}}),
    }
    env.pop("BATON_API_KEY", None)
    proc, port = start_serve(env, tmp_path / "serve.log")
    env["BATON_URL"] = f"http://127.0.0.1:{port}"
    try:
        yield env
    finally:
        proc.terminate()
        proc.wait(20)


def baton(env, *args, key=None):
    e = dict(env)
    if key:
        e["BATON_API_KEY"] = key
    return subprocess.run([BATON, *args], env=e, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_drives_runs_end_to_end(server):
    made = baton(server, "keys", "create", "--tenant", "acme", "--user", "alice", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]

    done = baton(server, "run", "hello baton", "--json", key=key)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert run["status"] == "completed" and run["result"] == "You said: hello baton"

    status = json.loads(baton(server, "status", run["run_id"], "--json", key=key).stdout)
    assert status["run_id"] == run["run_id"]
    logs = json.loads(baton(server, "logs", run["run_id"], "--json", key=key).stdout)
    assert logs[0]["type"] == "RunCreated" and logs[-1]["type"] == "RunCompleted"
    listed = json.loads(baton(server, "runs", "--json", key=key).stdout)
    assert [r["run_id"] for r in listed] == [run["run_id"]]

    # a run that needs an approval, approved from the CLI
    script = [
        {"type": "tool_call", "tool": "notes_save", "arguments": {"body": "buy milk"}},
        {"type": "respond", "message": "saved"},
    ]
    created = httpx.post(
        f"{server['BATON_URL']}/runs",
        json={"goal": "note it", "meta": {"script": script}},
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    deadline = time.monotonic() + 60
    while True:
        st = json.loads(baton(server, "status", created["run_id"], "--json", key=key).stdout)
        if st["status"] == "waiting_for_human" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert st["pending_approval"]["tool_name"] == "notes_save"
    approved = baton(server, "approve", created["run_id"], "--json", key=key)
    assert approved.returncode == 0, approved.stderr
    while True:
        st = json.loads(baton(server, "status", created["run_id"], "--json", key=key).stdout)
        if st["status"] == "completed" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert st["result"] == "saved"
    again = baton(server, "approve", created["run_id"], key=key)
    assert again.returncode == 1 and "waits for no approval" in again.stderr

    # mistakes get a message and a non-zero exit, never a traceback
    for args, code, words in [
        (("status", "run_doesnotexist"), 1, "no run"),
        (("cancel", run["run_id"]), 1, "cannot move"),
        (("approve", run["run_id"], "--args", "{not json"), 1, "waits for no approval"),
        (("keys", "create", "--tenant", "has space", "--user", "x"), 1, "tenant must be"),
    ]:
        r = baton(server, *args, key=key)
        assert r.returncode == code, (args, r.stdout, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    no_key = baton(server, "status", run["run_id"])
    assert no_key.returncode == 2 and "BATON_API_KEY" in no_key.stderr
    bad_key = baton(
        server, "status", run["run_id"], key="bk_0000000000000000_xxxxxxxxxxxxxxxxxxxxxxxx"
    )
    assert bad_key.returncode == 1 and "401" in bad_key.stderr
