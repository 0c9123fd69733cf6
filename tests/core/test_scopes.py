"""A user's permission scopes reach the tool gate in real workers (guests get no tools)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import text

from core.agent.scripted import ScriptedAgent
from core.auth.keys import create_key
from core.runs.service import RunStore
from core.worker.runner import Worker
from tests.core.api_harness import api
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


def test_deciding_an_approval_needs_the_approve_scope_once_scopes_are_listed(engine):
    body = {"approval_id": "apr_x", "decision": "approve"}
    with api(engine, gate_with()) as c:
        unlisted = {"Authorization": f"Bearer {create_key(engine, 'acme', 'ann')}"}
        readers = {"Authorization": f"Bearer {create_key(engine, 'acme', 'rita', ['notes:read'])}"}
        approvers = {"Authorization": f"Bearer {create_key(engine, 'acme', 'al', ['approve'])}"}

        refused = c.post("/runs/run_missing/approve", json=body, headers=readers)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "this key lacks the 'approve' scope"
        # Allowed to decide, so the request goes on to find no such run.
        assert c.post("/runs/run_missing/approve", json=body, headers=unlisted).status_code == 404
        assert c.post("/runs/run_missing/approve", json=body, headers=approvers).status_code == 404


def test_privileged_scopes_are_never_a_default(engine):
    with api(engine, gate_with()) as c:
        unlisted = {"Authorization": f"Bearer {create_key(engine, 'acme', 'ann')}"}
        admin = {"Authorization": f"Bearer {create_key(engine, 'acme', 'ada', ['admin'])}"}
        assert c.get("/webhooks", headers=unlisted).status_code == 403
        assert c.get("/costs?scope=tenant", headers=unlisted).status_code == 403
        assert c.get("/webhooks", headers=admin).status_code == 200
        assert c.get("/costs?scope=tenant", headers=admin).status_code == 200
        # Deployment-wide metrics span tenants: not even a tenant's admin reads them.
        assert c.get("/metrics", headers=admin).status_code == 403
