"""Continuing runs from the app with their full context: each way a run can be waiting."""

from __future__ import annotations

from sqlalchemy import select

from core.runs.service import RunStore
from core.store.tables import Checkpoint
from handoff.config import get_handoff_settings
from handoff.links import deep_link
from handoff.web.session import CSRF_HEADER, signer
from tests.core.helpers import drive
from tests.handoff.conftest import handoff_gate

CHECKPOINTS = Checkpoint.__table__  # type: ignore[attr-defined]


def _sign_in(client, runtime, run_id):
    s, hs = runtime.settings, get_handoff_settings()
    owner = {"tenant_id": "acme", "user_id": "ann"}
    link = deep_link(s, hs, signer(s, hs), owner, {"run_id": run_id})
    path = link.split("testserver", 1)[1]
    assert client.get(path, follow_redirects=False).status_code == 303
    return {CSRF_HEADER: client.get("/app/api/me").json()["csrf"]}


def _messages(runtime, run_id):
    """The conversation the latest checkpoint hands the next step."""
    with runtime.engine.connect() as conn:
        state = conn.execute(
            select(CHECKPOINTS.c.state_json)
            .where(CHECKPOINTS.c.run_id == run_id)
            .order_by(CHECKPOINTS.c.step.desc(), CHECKPOINTS.c.created_at.desc())
        ).first()[0]
    return [(m["role"], m["content"]) for m in state["messages"]]


def _types(store, run_id):
    return [e["type"] for e in store.events("acme", "ann", run_id)]


def test_a_run_waiting_for_an_answer_continues_with_the_text(app_client, runtime):
    store = RunStore(runtime.engine, runtime.settings)
    script = [{"type": "ask_human", "question": "Which city?"}]
    run = store.create_run("acme", "ann", "book a table", meta={"script": script})
    drive(runtime.engine, handoff_gate(runtime.settings))
    assert store.get_run("acme", "ann", run["run_id"])["status"] == "waiting_for_human"
    csrf = _sign_in(app_client, runtime, run["run_id"])
    view = app_client.get(f"/app/api/runs/{run['run_id']}").json()
    assert view["actions"]["continue"] and not view["actions"]["approve"]
    assert view["timeline"][-1]["title"] == "Question for you"

    sent = app_client.post(
        f"/app/api/runs/{run['run_id']}/continue", json={"text": "Oslo"}, headers=csrf
    )
    assert sent.status_code == 200 and sent.json()["status"] == "queued"
    drive(runtime.engine, handoff_gate(runtime.settings))
    done = store.get_run("acme", "ann", run["run_id"])
    assert (done["status"], done["result"]) == ("completed", "You said: Oslo")
    received = [e for e in store.events("acme", "ann", run["run_id"])
                if e["type"] == "UserMessageReceived"]  # fmt: skip
    assert received[0]["data"] == {"text": "Oslo", "channel": "web"}
    # The whole conversation carried over, not just the last line.
    assert _messages(runtime, run["run_id"]) == [
        ("user", "book a table"),
        ("assistant", "Which city?"),
        ("user", "Oslo"),
        ("assistant", "You said: Oslo"),
    ]


def test_a_run_cancelled_by_a_hang_up_resumes_from_the_app(app_client, runtime):
    store = RunStore(runtime.engine, runtime.settings)
    script = [{"type": "ask_human", "question": "Which day?"}]
    run = store.create_run("acme", "ann", "plan dinner", channel="voice", meta={"script": script})
    drive(runtime.engine, handoff_gate(runtime.settings))
    store.cancel("acme", "ann", run["run_id"], "caller hung up", channel="voice")
    csrf = _sign_in(app_client, runtime, run["run_id"])
    actions = app_client.get(f"/app/api/runs/{run['run_id']}").json()["actions"]
    assert actions["resume"] and actions["continue"] and not actions["follow_up"]

    app_client.post(
        f"/app/api/runs/{run['run_id']}/continue", json={"text": "Friday"}, headers=csrf
    )
    drive(runtime.engine, handoff_gate(runtime.settings))
    done = store.get_run("acme", "ann", run["run_id"])
    assert (done["status"], done["result"]) == ("completed", "You said: Friday")
    assert ("assistant", "Which day?") in _messages(runtime, run["run_id"])
    types = _types(store, run["run_id"])
    assert types.index("RunCancelled") < types.index("RunResumed") < types.index("RunCompleted")


def test_a_cancelled_run_resumes_without_a_message(app_client, runtime):
    store = RunStore(runtime.engine, runtime.settings)
    run = store.create_run("acme", "ann", "summarise my notes")
    store.cancel("acme", "ann", run["run_id"], "paused for later", channel="voice")
    csrf = _sign_in(app_client, runtime, run["run_id"])
    resumed = app_client.post(f"/app/api/runs/{run['run_id']}/continue", json={}, headers=csrf)
    assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
    drive(runtime.engine, handoff_gate(runtime.settings))
    assert store.get_run("acme", "ann", run["run_id"])["status"] == "completed"


def test_an_approval_is_decided_in_the_app_and_the_run_finishes(app_client, runtime):
    store = RunStore(runtime.engine, runtime.settings)
    script = [
        {"type": "tool_call", "tool": "email.send", "arguments": {"to": "bob@example.com"}},
        {"type": "respond", "message": "Sent."},
    ]
    run = store.create_run("acme", "ann", "mail bob", meta={"script": script})
    drive(runtime.engine, handoff_gate(runtime.settings))
    csrf = _sign_in(app_client, runtime, run["run_id"])
    view = app_client.get(f"/app/api/runs/{run['run_id']}").json()
    approval = view["pending_approval"]
    assert view["actions"]["approve"] and approval["tool_name"] == "email.send"
    decided = app_client.post(
        f"/app/api/runs/{run['run_id']}/approve",
        json={"approval_id": approval["approval_id"], "decision": "approve"},
        headers=csrf,
    )
    assert decided.status_code == 200
    again = app_client.post(
        f"/app/api/runs/{run['run_id']}/approve",
        json={"approval_id": approval["approval_id"], "decision": "approve"},
        headers=csrf,
    )
    assert again.status_code == 409  # one decision per approval
    drive(runtime.engine, handoff_gate(runtime.settings))
    done = store.get_run("acme", "ann", run["run_id"])
    assert (done["status"], done["result"]) == ("completed", "Sent.")
    (decision,) = store.approvals("acme", "ann", run["run_id"])
    assert (decision["status"], decision["channel"]) == ("approved", "web")
    timeline = app_client.get(f"/app/api/runs/{run['run_id']}").json()["timeline"]
    outside = [t for t in timeline if t["outside"]]
    assert [t["title"] for t in outside] == ["Changed outside: email.send done"]


def test_a_denied_approval_lets_the_run_go_on_without_the_action(app_client, runtime):
    store = RunStore(runtime.engine, runtime.settings)
    script = [{"type": "tool_call", "tool": "email.send", "arguments": {"to": "bob@example.com"}}]
    run = store.create_run("acme", "ann", "mail bob", meta={"script": script})
    drive(runtime.engine, handoff_gate(runtime.settings))
    csrf = _sign_in(app_client, runtime, run["run_id"])
    approval = store.pending_approval("acme", "ann", run["run_id"])
    assert approval is not None
    app_client.post(
        f"/app/api/runs/{run['run_id']}/approve",
        json={"approval_id": approval["approval_id"], "decision": "deny"},
        headers=csrf,
    )
    drive(runtime.engine, handoff_gate(runtime.settings))
    done = store.get_run("acme", "ann", run["run_id"])
    assert done["status"] == "completed"
    assert "ToolCallSucceeded" not in _types(store, run["run_id"])


def test_a_completed_run_offers_a_follow_up_linked_to_it(app_client, runtime):
    store = RunStore(runtime.engine, runtime.settings)
    run = store.create_run("acme", "ann", "what is on my calendar", meta={
        "script": [{"type": "respond", "message": "Two meetings tomorrow."}]})  # fmt: skip
    drive(runtime.engine, handoff_gate(runtime.settings))
    csrf = _sign_in(app_client, runtime, run["run_id"])
    view = app_client.get(f"/app/api/runs/{run['run_id']}").json()
    assert view["actions"]["follow_up"] and not view["actions"]["continue"]
    refused = app_client.post(
        f"/app/api/runs/{run['run_id']}/continue", json={"text": "and friday?"}, headers=csrf
    )
    assert refused.status_code == 409 and "follow-up" in refused.json()["detail"]

    child = app_client.post(
        f"/app/api/runs/{run['run_id']}/follow-up", json={"text": "and friday?"}, headers=csrf
    )
    assert child.status_code == 201
    child_id = child.json()["run_id"]
    assert child.json()["parent_run_id"] == run["run_id"]
    # The deep-link session was widened to the new run (same CSRF value, page keeps working).
    assert app_client.get(f"/app/api/runs/{child_id}").status_code == 200
    assert app_client.get("/app/api/me").json()["csrf"] == csrf[CSRF_HEADER]
    parent_view = app_client.get(f"/app/api/runs/{run['run_id']}").json()
    assert [f["run_id"] for f in parent_view["follow_ups"]] == [child_id]
    drive(runtime.engine, handoff_gate(runtime.settings))
    assert _messages(runtime, child_id)[:3] == [
        ("user", "what is on my calendar"),
        ("assistant", "Two meetings tomorrow."),
        ("user", "and friday?"),
    ]
