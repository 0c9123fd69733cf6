"""A user's permission scopes reach the tool gate in real workers (guests get no tools)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import text

from core.agent.scripted import ScriptedAgent
from core.auth.keys import create_key
from core.runs.service import RunStore
from core.worker.runner import Worker
from tests.core.helpers import (
    bump_spec,
    ensure_side_effects,
    gate_with,
    side_effects,
    wait_for_status,
)

SCRIPT = [
    {"type": "tool_call", "tool": "counter.bump", "arguments": {"n": 1}},
    {"type": "respond", "message": "done"},
]


def test_a_user_without_the_scope_never_runs_the_tool(engine):
    ensure_side_effects(engine)
    create_key(engine, "guests", "caller")
    create_key(engine, "acme", "alice")
    with engine.begin() as conn:
        conn.execute(text("update users set scopes = :s where user_id = 'caller'"), {"s": "[]"})
    spec = dataclasses.replace(bump_spec(), scopes=("counter:write",))
    store = RunStore(engine)
    guest = store.create_run("guests", "caller", "bump", meta={"script": SCRIPT})
    member = store.create_run("acme", "alice", "bump", meta={"script": SCRIPT})
    worker = Worker(engine, ScriptedAgent, gate_with(spec), poll_s=0.02)
    worker.start()
    try:
        g = wait_for_status(store, "guests", "caller", guest["run_id"], {"completed"})
        m = wait_for_status(store, "acme", "alice", member["run_id"], {"completed"})
    finally:
        worker.stop()
    assert side_effects(engine, guest["run_id"]) == []
    denied = [
        e for e in store.events("guests", "caller", g["run_id"]) if e["type"] == "ToolCallDenied"
    ]
    assert denied and denied[0]["data"]["verdict"]["error_type"] == "permission_denied"
    assert side_effects(engine, member["run_id"]) == [1]
    assert m["result"] == "done"
