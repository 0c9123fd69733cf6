"""Workers are SIGKILLed at each step boundary; another worker finishes every run and every
side effect happens exactly once (on SQLite and Postgres, with real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.runs.service import RunStore
from tests.core.helpers import count, ensure_side_effects, side_effects, wait_for_status

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = [{"type": "tool_call", "tool": "counter.bump", "arguments": {"n": i}} for i in range(3)]
SCRIPT.append({"type": "respond", "message": "bumped three times"})


def start_worker(url: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.core.crash_worker", url, *extra],
        cwd=ROOT,
        env={**os.environ, "BATON_PLUGINS": "none"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"worker exited early: {err[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("the worker never reached the boundary")
        time.sleep(0.05)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(10)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("boundary", "step", "risk"),
    [
        ("before_model", 2, 1),
        ("after_decision", 2, 1),
        ("after_tool", 2, 1),
        ("waiting_for_approval", 1, 3),
    ],
)
def test_sigkill_at_each_boundary_then_another_worker_finishes(
    engine, database_url, tmp_path, boundary, step, risk
):
    ensure_side_effects(engine)
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "bump three times", meta={"script": SCRIPT})
    rid = run["run_id"]
    marker = tmp_path / "marker"
    first = start_worker(
        database_url,
        "--crash-at",
        boundary,
        "--crash-step",
        str(step),
        "--marker",
        str(marker),
        "--risk",
        str(risk),
    )
    try:
        wait_for_file(marker, first)
    finally:
        kill(first)

    second = start_worker(database_url, "--risk", str(risk))
    try:
        for _ in range(3 if risk >= 3 else 0):
            waiting = wait_for_status(store, "acme", "alice", rid, {"waiting_for_human"})
            assert waiting["status"] == "waiting_for_human", waiting
            store.decide_approval("acme", "alice", rid, waiting["pending_approval_id"], True)
        final = wait_for_status(store, "acme", "alice", rid, {"completed"})
    finally:
        kill(second)

    assert final["status"] == "completed", final
    assert final["result"] == "bumped three times"
    assert side_effects(engine, rid) == [0, 1, 2]
    assert count(engine, "select count(*) from tool_invocations where run_id = :r", r=rid) == 3
    assert (
        count(
            engine,
            "select count(*) from tool_invocations where run_id = :r and status = 'succeeded'",
            r=rid,
        )
        == 3
    )
    # the materialised view is exactly the fold of the log
    rebuilt = store.rebuilt_view("acme", "alice", rid)
    assert {k: final[k] for k in rebuilt} == rebuilt
    if boundary != "waiting_for_approval":
        assert (
            count(
                engine,
                "select count(*) from run_events where run_id = :r and type = 'LeaseTakenOver'",
                r=rid,
            )
            == 1
        )


@pytest.mark.slow
def test_two_racing_workers_never_run_one_step_twice(engine, database_url):
    ensure_side_effects(engine)
    store = RunStore(engine)
    script = [
        {"type": "tool_call", "tool": "counter.bump", "arguments": {"n": i}} for i in range(4)
    ]
    script.append({"type": "respond", "message": "ok"})
    ids = [
        store.create_run("acme", "bob", f"race {i}", meta={"script": script})["run_id"]
        for i in range(12)
    ]
    workers = [start_worker(database_url, "--concurrency", "2") for _ in range(2)]
    try:
        for rid in ids:
            assert (
                wait_for_status(store, "acme", "bob", rid, {"completed"})["status"] == "completed"
            )
    finally:
        for w in workers:
            kill(w)
    for rid in ids:
        assert side_effects(engine, rid) == [0, 1, 2, 3]
    # one StepStarted per step, one attempt per invocation, one checkpoint per step
    assert (
        count(
            engine,
            "select count(*) from run_events where type = 'StepStarted'",
        )
        == 12 * 5
    )
    assert count(engine, "select count(*) from tool_invocations where attempts <> 1") == 0
    assert count(engine, "select count(*) from checkpoints") == 12 * 5
