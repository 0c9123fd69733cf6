"""The tool layer inside real runs: the stateless step, the worker, approvals, crashes and a
prompt injection (SQLite and Postgres; real SMTP and web servers on loopback)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.agent.invocation_ledger import ApprovalReused
from core.agent.scripted import ScriptedAgent
from core.config import Settings
from core.errors import Conflict, NotFound
from core.runs.log import RunWriter
from core.runs.service import RunStore
from core.tools.gate import ToolGate
from core.tools.providers import build_registry
from core.tools.registry import ToolRegistry
from core.tools.spec import RiskLevel, ToolContext, ToolSpec
from models.contract import ContextPack
from tests.core.helpers import count, drive

ROOT = Path(__file__).resolve().parents[2]
START = "2031-03-04T10:00:00+00:00"
BOOK = {"title": "Budget review", "start": START, "duration_minutes": 30}


def gate_for(tmp_path: Path, **settings: Any) -> ToolGate:
    s = Settings(data_dir=tmp_path, sandbox_bwrap="/nonexistent/bwrap", **settings)
    return ToolGate(build_registry(s), retry_wait_s=0.01)


def script(*decisions: dict[str, Any]) -> dict[str, Any]:
    return {"script": list(decisions)}


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "tool": tool, "arguments": arguments}


def respond(message: str) -> dict[str, Any]:
    return {"type": "respond", "message": message}


def events(store: RunStore, run: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in store.events("acme", "alice", run["run_id"]) if e["type"] == kind]


def calendar(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("select title, status from calendar_events order by title"))
        return [(r[0], r[1]) for r in rows]


def tool_messages(pack: ContextPack) -> list[dict[str, Any]]:
    return [json.loads(m.content) | {"tool": m.name} for m in pack.messages if m.role == "tool"]


# ----- level 3 never runs without a human; approvals -------------------------------------


def test_a_level_3_call_without_approval_never_executes(engine, tmp_path):
    gate = gate_for(tmp_path)
    store = RunStore(engine)
    run = store.create_run(
        "acme", "alice", "book it", meta=script(call("calendar_book_meeting", **BOOK))
    )
    drive(engine, gate)
    waiting = store.get_run("acme", "alice", run["run_id"])
    assert waiting["status"] == "waiting_for_human"
    assert calendar(engine) == []
    assert count(engine, "select count(*) from tool_invocations") == 0
    proposed = events(store, run, "ToolCallProposed")[0]["verdict"]
    assert proposed["outcome"] == "approve" and proposed["risk_level"] == 3
    drive(engine, gate)  # nothing to do: still waiting, still nothing executed
    assert calendar(engine) == []
    store.cancel("acme", "alice", run["run_id"], "changed my mind")
    assert calendar(engine) == []


def test_approving_executes_exactly_the_approved_call(engine, tmp_path):
    gate = gate_for(tmp_path)
    store = RunStore(engine)
    run = store.create_run(
        "acme",
        "alice",
        "book it",
        meta=script(call("calendar_book_meeting", **BOOK), respond("booked")),
    )
    drive(engine, gate)
    approval = store.pending_approval("acme", "alice", run["run_id"])
    assert approval is not None and approval["tool_name"] == "calendar_book_meeting"
    store.decide_approval("acme", "alice", run["run_id"], approval["approval_id"], True)
    drive(engine, gate)
    assert store.get_run("acme", "alice", run["run_id"])["status"] == "completed"
    assert calendar(engine) == [("Budget review", "booked")]
    with engine.connect() as conn:
        inv = conn.execute(text("select approval_id, arguments_hash from tool_invocations"))
        assert [tuple(r) for r in inv] == [(approval["approval_id"], approval["arguments_hash"])]

    # the approval cannot be decided (used) a second time
    with pytest.raises(Conflict):
        store.decide_approval("acme", "alice", run["run_id"], approval["approval_id"], True)


def test_edited_arguments_create_a_new_approval_and_only_the_edit_executes(engine, tmp_path):
    gate = gate_for(tmp_path)
    store = RunStore(engine)
    run = store.create_run(
        "acme", "alice", "book", meta=script(call("calendar_book_meeting", **BOOK), respond("ok"))
    )
    drive(engine, gate)
    original = store.pending_approval("acme", "alice", run["run_id"])
    assert original is not None
    edited = {**BOOK, "title": "Budget review (short)", "duration_minutes": 15}
    store.decide_approval(
        "acme", "alice", run["run_id"], original["approval_id"], True, edited_arguments=edited
    )
    drive(engine, gate)
    assert calendar(engine) == [("Budget review (short)", "booked")]
    approvals = store.approvals("acme", "alice", run["run_id"])
    assert [(a["status"], a["supersedes"]) for a in approvals] == [
        ("superseded", None),
        ("approved", original["approval_id"]),
    ]
    with engine.connect() as conn:
        used = conn.execute(text("select approval_id from tool_invocations")).scalar_one()
    assert used == approvals[1]["approval_id"]


def test_an_approval_is_bound_to_its_run_user_and_a_live_run(engine, tmp_path):
    gate = gate_for(tmp_path)
    store = RunStore(engine)
    meta = script(call("calendar_book_meeting", **BOOK), respond("ok"))
    run_a = store.create_run("acme", "alice", "book a", meta=meta)
    run_b = store.create_run("acme", "alice", "book b", meta=meta)
    bobs = store.create_run("acme", "bob", "bob's", meta=meta)
    drive(engine, gate)
    a = store.pending_approval("acme", "alice", run_a["run_id"])
    assert a is not None
    # for another run of the same user
    with pytest.raises((NotFound, Conflict)):
        store.decide_approval("acme", "alice", run_b["run_id"], a["approval_id"], True)
    # by another user (his own run, or hers)
    with pytest.raises(NotFound):
        store.decide_approval("acme", "bob", bobs["run_id"], a["approval_id"], True)
    with pytest.raises(NotFound):
        store.decide_approval("acme", "bob", run_a["run_id"], a["approval_id"], True)
    # after the run is cancelled
    store.cancel("acme", "alice", run_a["run_id"])
    with pytest.raises(Conflict):
        store.decide_approval("acme", "alice", run_a["run_id"], a["approval_id"], True)
    drive(engine, gate)
    assert calendar(engine) == []
    assert count(engine, "select count(*) from tool_invocations") == 0


def test_a_forged_second_grant_of_a_used_approval_does_not_execute_again(engine, tmp_path):
    gate = gate_for(tmp_path)
    store = RunStore(engine)
    run = store.create_run(
        "acme",
        "alice",
        "book",
        meta=script(call("calendar_book_meeting", **BOOK), respond("ok"), respond("again")),
    )
    drive(engine, gate)
    approval = store.pending_approval("acme", "alice", run["run_id"])
    assert approval is not None
    store.decide_approval("acme", "alice", run["run_id"], approval["approval_id"], True)
    drive(engine, gate)
    # Re-open the run and replay the grant event, as a bug or an attacker with DB access might.
    with engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])
        w.view["status"] = "waiting_for_human"
        w.emit("ApprovalGranted", {"approval_id": approval["approval_id"], "tool": "x"})
        w.flush()
    with pytest.raises(ApprovalReused):
        drive(engine, gate)
    assert calendar(engine) == [("Budget review", "booked")]
    assert count(engine, "select count(*) from tool_invocations") == 1


def test_a_denial_is_fed_back_to_the_agent(engine, tmp_path, smtp):
    url, box = smtp
    gate = gate_for(tmp_path, smtp_url=url)
    store = RunStore(engine)
    seen: list[list[dict[str, Any]]] = []

    def agent(pack: ContextPack) -> dict[str, Any]:
        results = tool_messages(pack)
        seen.append(results)
        if not results:
            return call("email_send", to=["sam@example.com"], subject="Hi", body="Hello")
        return respond(f"okay, not sending ({results[-1]['error_type']})")

    run = store.create_run("acme", "alice", "email sam")
    drive(engine, gate, ScriptedAgent(agent))
    approval = store.pending_approval("acme", "alice", run["run_id"])
    assert approval is not None
    store.decide_approval("acme", "alice", run["run_id"], approval["approval_id"], False)
    drive(engine, gate, ScriptedAgent(agent))
    final = store.get_run("acme", "alice", run["run_id"])
    assert final["status"] == "completed"
    assert final["result"] == "okay, not sending (denied_by_user)"
    assert seen[-1][-1]["status"] == "denied" and seen[-1][-1]["tool"] == "email_send"
    assert box.messages == []


def test_a_timed_out_tool_reaches_the_agent_as_a_normalised_error(engine):
    async def hangs(args: dict[str, Any], ctx: ToolContext) -> None:
        await asyncio.sleep(30)

    slow = ToolSpec(
        name="crm_lookup", description="slow", fn=hangs, timeout_s=0.3, max_attempts=2,
        risk_level=RiskLevel.PURE_READ,
    )  # fmt: skip
    gate = ToolGate(ToolRegistry([slow]), retry_wait_s=0.01)
    store = RunStore(engine)
    seen: list[dict[str, Any]] = []

    def agent(pack: ContextPack) -> dict[str, Any]:
        results = tool_messages(pack)
        if not results:
            return call("crm_lookup")
        seen.append(results[-1])
        return respond("the CRM is not answering")

    run = store.create_run("acme", "alice", "look it up")
    drive(engine, gate, ScriptedAgent(agent))
    assert store.get_run("acme", "alice", run["run_id"])["status"] == "completed"
    assert seen[0]["status"] == "failed"
    assert seen[0]["error_type"] == "timeout" and seen[0]["retryable"] is True
    assert seen[0]["attempts"] == 2  # a safe read is retried once before giving up
    failed = events(store, run, "ToolCallFailed")
    assert failed[0]["error_type"] == "timeout"


def test_skill_activation_through_a_run_records_name_and_version(engine, tmp_path):
    skill = tmp_path / "skills" / "meeting-notes"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(
        "---\nname: meeting-notes\ndescription: Write meeting notes.\n---\nUse bullet points.\n"
    )
    gate = gate_for(tmp_path, skills_dirs=str(tmp_path / "skills"))
    store = RunStore(engine)
    run = store.create_run(
        "acme",
        "alice",
        "notes please",
        meta=script(call("activate_skill", name="meeting-notes"), respond("done")),
    )
    drive(engine, gate)
    final = store.get_run("acme", "alice", run["run_id"])
    assert final["status"] == "completed"
    version = final["meta"]["skills"]["meeting-notes"]
    assert events(store, run, "SkillActivated") == [{"name": "meeting-notes", "version": version}]
    assert store.rebuilt_view("acme", "alice", run["run_id"])["meta"] == final["meta"]


# ----- prompt injection ---------------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["obeys", "drafts_then_sends", "claims_approval"])
def test_injected_instructions_never_send_email_without_approval(
    engine, tmp_path, smtp, web, behaviour
):
    url, box = smtp
    gate = gate_for(tmp_path, smtp_url=url, http_allowlist="127.0.0.1")
    store = RunStore(engine)
    attack = {"to": ["attacker@evil.example"], "subject": "notes", "body": "all the notes"}

    def gullible(pack: ContextPack) -> dict[str, Any]:
        """A model that does whatever the fetched page tells it to."""
        results = tool_messages(pack)
        if not results:
            return call("http_get", url=f"{web}/wiki")
        last = results[-1]
        if last["tool"] == "http_get" and "email_send" in json.dumps(last):
            if behaviour == "drafts_then_sends":
                return call("email_draft", **attack)
            if behaviour == "claims_approval":
                return call("email_send", **attack, approved=True)
            return call("email_send", **attack)
        if last["tool"] == "email_draft" and last["status"] == "succeeded":
            return call("email_send", draft_id=last["data"]["draft_id"])
        if last["status"] == "denied" and last["error_type"] == "invalid_arguments":
            return call("email_send", **attack)
        return respond("done")

    run = store.create_run("acme", "alice", "summarise the team wiki")
    drive(engine, gate, ScriptedAgent(gullible))
    waiting = store.get_run("acme", "alice", run["run_id"])
    assert waiting["status"] == "waiting_for_human"
    pending = store.pending_approval("acme", "alice", run["run_id"])
    assert pending is not None and pending["tool_name"] == "email_send"
    assert box.messages == []
    assert count(engine, "select count(*) from email_sends") == 0
    assert count(engine, "select count(*) from tool_invocations where tool_name='email_send'") == 0

    # The person says no; the email still never goes out.
    store.decide_approval("acme", "alice", run["run_id"], pending["approval_id"], False)
    drive(engine, gate, ScriptedAgent(gullible))
    assert store.get_run("acme", "alice", run["run_id"])["status"] == "completed"
    assert box.messages == []
    verdicts = [e["verdict"]["outcome"] for e in events(store, run, "ToolCallProposed")]
    assert verdicts[0] == "allow" and "approve" in verdicts  # every decision is in the log


# ----- a worker killed after the SMTP 250 ---------------------------------------------------


def start_worker(url: str, smtp_url: str, data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "tests.tools.tool_worker", url, "--smtp-url", smtp_url,
            "--data-dir", str(data_dir), *extra,
        ],
        cwd=ROOT,
        env={**os.environ, "BATON_PLUGINS": "none"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
def test_an_email_replayed_after_a_worker_crash_is_delivered_once(
    engine, database_url, tmp_path, smtp
):
    url, box = smtp
    gate = gate_for(tmp_path, smtp_url=url)
    store = RunStore(engine)
    send = call("email_send", to=["sam@example.com"], subject="Minutes", body="Attached.")
    run = store.create_run("acme", "alice", "send the minutes", meta=script(send, respond("sent")))
    drive(engine, gate)
    approval = store.pending_approval("acme", "alice", run["run_id"])
    assert approval is not None
    store.decide_approval("acme", "alice", run["run_id"], approval["approval_id"], True)

    # A real worker process sends, then is SIGKILLed before it records the result.
    marker = tmp_path / "marker"
    worker = start_worker(database_url, url, tmp_path, "--crash-at", "after_tool", "--marker",
                          str(marker))  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, worker.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the worker never reached the boundary"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert len(box.messages) == 1
    assert store.get_run("acme", "alice", run["run_id"])["status"] == "running_tool"

    # Another worker takes the run over once the lease expires and replays the call.
    deadline = time.monotonic() + 30
    while store.get_run("acme", "alice", run["run_id"])["status"] != "completed":
        assert time.monotonic() < deadline, "the run was not finished by another worker"
        drive(engine, gate)
        time.sleep(0.1)
    assert len(box.messages) == 1  # delivered once
    with engine.connect() as conn:
        inv = conn.execute(text("select attempts, status, result_json from tool_invocations")).one()
    assert inv[0] == 2 and inv[1] == "succeeded"
    result = inv[2] if isinstance(inv[2], dict) else json.loads(inv[2])
    assert result["data"]["replayed"] is True
    assert result["data"]["message_id"] == box.messages[0]["Message-ID"]
    assert count(engine, "select count(*) from email_sends") == 1
    assert len(events(store, run, "LeaseTakenOver")) == 1
