"""The run-change notifier wakes waiters when a change commits: threads, asyncio tasks, other
processes (Postgres LISTEN/NOTIFY, SQLite's data_version) and idle workers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.agent.scripted import ScriptedAgent
from core.runs.log import RunWriter
from core.runs.notify import run_changes
from core.runs.service import RunStore
from core.worker.runner import Worker
from tests.core.api_harness import api, auth
from tests.core.helpers import drive, gate_with, wait_for_status

ROOT = Path(__file__).resolve().parents[2]
POST_FROM_ANOTHER_PROCESS = """
import sys
from core.runs.service import RunStore
from core.store.db import make_engine
RunStore(make_engine(sys.argv[1])).post_message("acme", "alice", sys.argv[2], "from afar")
"""


def _messages(store: RunStore, run_id: str) -> list[str]:
    return [
        e["data"]["text"]
        for e in store.events("acme", "alice", run_id)
        if e["type"] == "UserMessageReceived"
    ]


def test_a_waiter_wakes_after_the_commit_and_sees_the_change(engine):
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "plan my day")
    with store.watch([run["run_id"]]) as changes:
        with engine.begin() as conn:
            w = RunWriter.open(conn, run["run_id"])
            w.emit("UserMessageReceived", {"text": "and lunch", "channel": "api"})
            w.flush()
            assert not changes.wait(0.3), "woken before the change was committed"
        assert changes.wait(10)
        assert _messages(store, run["run_id"]) == ["and lunch"]


def test_a_rolled_back_change_wakes_no_one(engine):
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "plan my day")
    with run_changes().subscribe([run["run_id"]]) as changes:
        with pytest.raises(RuntimeError), engine.begin() as conn:
            w = RunWriter.open(conn, run["run_id"])
            w.emit("UserMessageReceived", {"text": "never mind", "channel": "api"})
            w.flush()
            raise RuntimeError("abandon the transaction")
        assert not changes.wait(0.3)
    assert _messages(store, run["run_id"]) == []


def test_an_asyncio_waiter_wakes_when_another_thread_commits(engine):
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "plan my day")

    async def wait_for_message() -> list[str]:
        with store.watch([run["run_id"]]) as changes:
            writer = threading.Thread(
                target=store.post_message, args=("acme", "alice", run["run_id"], "and dinner")
            )
            writer.start()
            try:
                while not _messages(store, run["run_id"]):
                    assert await changes.changed(10), "never woken"
            finally:
                writer.join()
        return _messages(store, run["run_id"])

    assert asyncio.run(wait_for_message()) == ["and dinner"]


def test_a_waiter_wakes_when_another_process_commits(engine, database_url):
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "plan my day")
    with store.watch([run["run_id"]]) as changes:
        proc = subprocess.Popen(
            [sys.executable, "-c", POST_FROM_ANOTHER_PROCESS, database_url, run["run_id"]],
            cwd=ROOT,
            env={**os.environ, "BATON_PLUGINS": "none"},
            stderr=subprocess.PIPE,
        )
        try:
            while not _messages(store, run["run_id"]):
                # Each wait must end in a wake-up: a timeout here means nobody told us.
                assert changes.wait(60), "the other process's commit never woke the waiter"
        finally:
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()[-2000:]
    assert _messages(store, run["run_id"]) == ["from afar"]


def test_an_idle_worker_starts_new_work_without_polling(engine):
    store = RunStore(engine)
    # An hour between polls: only the notifier can get this run started.
    worker = Worker(engine, ScriptedAgent, gate_with(), poll_s=3600)
    worker.start()
    try:
        run = store.create_run("acme", "alice", "say hello")
        done = wait_for_status(store, "acme", "alice", run["run_id"], {"completed"}, timeout=30)
        assert done["result"] == "You said: say hello"
        later = store.follow_up("acme", "alice", run["run_id"], "once more")
        again = wait_for_status(store, "acme", "alice", later["run_id"], {"completed"}, 30)
        assert again["status"] == "completed"
    finally:
        worker.stop()


def test_a_followed_event_stream_gets_each_event_when_it_commits(engine, monkeypatch):
    # A quiet stream re-reads only this rarely: the events must come from the notifier.
    monkeypatch.setattr("core.api.routers.runs.DISCONNECT_CHECK_SECONDS", 3600.0)
    gate = gate_with()
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        run = c.post("/runs", json={"goal": "say hi"}, headers=h).json()
        seen: list[str] = []

        def follow() -> None:
            with c.stream(
                "GET", f"/runs/{run['run_id']}/events",
                headers={**h, "Accept": "text/event-stream"},
            ) as stream:  # fmt: skip
                for line in stream.iter_lines():
                    if line.startswith("event:"):
                        seen.append(line[6:].strip())

        reader = threading.Thread(target=follow)
        reader.start()
        while "RunQueued" not in seen and reader.is_alive():
            threading.Event().wait(0.01)
        drive(engine, gate)
        reader.join(60)
        assert not reader.is_alive(), "the stream never saw the run finish"
    assert seen[0] == "RunCreated" and seen[-1] == "RunCompleted"
