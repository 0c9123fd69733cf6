"""The run API as a client sees it, including bad input that must change nothing."""

from __future__ import annotations

import json
from typing import Any

from core.tools.spec import RiskLevel
from tests.core.api_harness import api, auth
from tests.core.helpers import bump_spec, count, drive, ensure_side_effects, gate_with, side_effects

APPROVE_SCRIPT = [
    {"type": "tool_call", "tool": "counter.bump", "arguments": {"n": 7}},
    {"type": "respond", "message": "bumped"},
]


def snapshot(engine):
    return tuple(
        count(engine, f"select count(*) from {t}")
        for t in ("runs", "run_events", "approvals", "tool_invocations", "checkpoints")
    )


def test_create_read_and_follow_a_run(engine):
    gate = gate_with(bump_spec())
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        r = c.post("/runs", json={"goal": "say hi"}, headers=h)
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["status"] == "queued" and run["run_id"].startswith("run_")
        drive(engine, gate)
        got = c.get(f"/runs/{run['run_id']}", headers=h).json()
        assert got["status"] == "completed"
        assert got["result"] == "You said: say hi"
        events = c.get(
            f"/runs/{run['run_id']}/events", headers={**h, "Accept": "application/json"}
        ).json()
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[0]["type"] == "RunCreated" and events[-1]["type"] == "RunCompleted"
        # server-sent events, resumed after the third event with Last-Event-ID
        with c.stream(
            "GET",
            f"/runs/{run['run_id']}/events",
            headers={**h, "Accept": "text/event-stream", "Last-Event-ID": "3"},
        ) as stream:
            ids = [int(line[3:].strip()) for line in stream.iter_lines() if line.startswith("id:")]
        assert ids == list(range(4, len(events) + 1))
        assert c.get("/docs").status_code == 200
        assert "/runs/{run_id}/approve" in c.get("/openapi.json").json()["paths"]


def test_idempotency_key_returns_the_same_run(engine):
    with api(engine, gate_with()) as c:
        h = {**auth(engine, "acme", "alice"), "Idempotency-Key": "order-42"}
        first = c.post("/runs", json={"goal": "book it"}, headers=h)
        again = c.post("/runs", json={"goal": "book it"}, headers=h)
        assert first.status_code == 201 and again.status_code == 200
        assert first.json()["run_id"] == again.json()["run_id"]
        other = c.post("/runs", json={"goal": "something else"}, headers=h)
        assert other.status_code == 409
        assert "different request" in other.json()["detail"]
        assert count(engine, "select count(*) from runs") == 1


def test_another_tenants_run_is_not_found(engine):
    with api(engine, gate_with()) as c:
        mine = c.post("/runs", json={"goal": "private"}, headers=auth(engine, "acme", "alice"))
        rid = mine.json()["run_id"]
        for h in (auth(engine, "globex", "alice"), auth(engine, "acme", "mallory")):
            assert c.get(f"/runs/{rid}", headers=h).status_code == 404
            assert c.post(f"/runs/{rid}/cancel", headers=h).status_code == 404
            assert (
                c.get(
                    f"/runs/{rid}/events", headers={**h, "Accept": "application/json"}
                ).status_code
                == 404
            )
            assert c.get("/runs", headers=h).json() == []
        assert c.get(f"/runs/{rid}").status_code == 401
        bad = {"Authorization": "Bearer bk_0000000000000000_notarealsecretnotarealsecret"}
        assert c.get(f"/runs/{rid}", headers=bad).status_code == 401


def test_bad_input_gets_a_reason_and_changes_nothing(engine):
    ensure_side_effects(engine)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
    with api(engine, gate, max_goal_chars=1000, max_request_bytes=20_000) as c:
        h = auth(engine, "acme", "alice")
        done = c.post("/runs", json={"goal": "finish"}, headers=h).json()
        waiting = c.post(
            "/runs", json={"goal": "approve me", "meta": {"script": APPROVE_SCRIPT}}, headers=h
        ).json()
        drive(engine, gate)
        pending = c.get(f"/runs/{waiting['run_id']}", headers=h).json()
        assert pending["status"] == "waiting_for_human"
        approval = pending["pending_approval"]
        assert approval["tool_name"] == "counter.bump" and approval["arguments"] == {"n": 7}
        before = snapshot(engine)

        cases: list[tuple[str, str, dict[str, Any], int]] = [
            (
                "post",
                "/runs",
                {"content": b"{not json", "headers": {**h, "Content-Type": "application/json"}},
                422,
            ),
            ("post", "/runs", {"json": {"goal": ""}}, 422),
            ("post", "/runs", {"json": {"goal": "x" * 1001}}, 413),
            (
                "post",
                "/runs",
                {
                    "content": b'{"goal": "' + b"y" * 30_000 + b'"}',
                    "headers": {**h, "Content-Type": "application/json"},
                },
                413,
            ),
            ("post", "/runs", {"json": {"goal": "hi", "max_steps": 10_000}}, 422),
            ("post", "/runs", {"json": {"goal": "hi", "surprise": 1}}, 422),
            ("get", "/runs/run_doesnotexist", {}, 404),
            ("post", "/runs/run_doesnotexist/cancel", {}, 404),
            (
                "post",
                f"/runs/{done['run_id']}/approve",
                {"json": {"approval_id": approval["approval_id"], "decision": "approve"}},
                404,
            ),
            ("post", f"/runs/{done['run_id']}/cancel", {}, 409),
            ("post", f"/runs/{done['run_id']}/resume", {}, 409),
            ("post", f"/runs/{done['run_id']}/messages", {"json": {"text": "more"}}, 409),
            (
                "post",
                f"/runs/{waiting['run_id']}/approve",
                {"json": {"approval_id": "apr_nope", "decision": "approve"}},
                404,
            ),
            (
                "post",
                f"/runs/{waiting['run_id']}/approve",
                {"json": {"approval_id": approval["approval_id"], "decision": "maybe"}},
                422,
            ),
            ("post", f"/runs/{waiting['run_id']}/resume", {}, 409),
            (
                "get",
                f"/runs/{waiting['run_id']}/events",
                {"headers": {**h, "Last-Event-ID": "abc"}},
                422,
            ),
        ]
        for method, path, kwargs, expected in cases:
            kwargs.setdefault("headers", h)
            r = c.request(method.upper(), path, **kwargs)
            assert r.status_code == expected, (path, kwargs.get("json"), r.status_code, r.text)
            assert r.json().get("detail"), (path, r.text)
            assert snapshot(engine) == before, (method, path)

        ok = c.post(
            f"/runs/{waiting['run_id']}/approve",
            json={"approval_id": approval["approval_id"], "decision": "approve"},
            headers=h,
        )
        assert ok.status_code == 200 and ok.json()["status"] == "queued"
        after_first = snapshot(engine)
        replay = c.post(
            f"/runs/{waiting['run_id']}/approve",
            json={"approval_id": approval["approval_id"], "decision": "approve"},
            headers=h,
        )
        assert replay.status_code == 409 and "already approved" in replay.json()["detail"]
        assert snapshot(engine) == after_first
        drive(engine, gate)
        assert c.get(f"/runs/{waiting['run_id']}", headers=h).json()["status"] == "completed"
        assert side_effects(engine, waiting["run_id"]) == [7]


def test_edited_arguments_create_a_new_approval_and_execute_exactly_that(engine):
    ensure_side_effects(engine)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        rid = c.post(
            "/runs", json={"goal": "bump", "meta": {"script": APPROVE_SCRIPT}}, headers=h
        ).json()["run_id"]
        drive(engine, gate)
        apr = c.get(f"/runs/{rid}", headers=h).json()["pending_approval_id"]
        r = c.post(
            f"/runs/{rid}/approve",
            json={"approval_id": apr, "decision": "approve", "arguments": {"n": 9}},
            headers=h,
        )
        assert r.status_code == 200, r.text
        drive(engine, gate)
        assert side_effects(engine, rid) == [9]
        approvals = c.get(f"/runs/{rid}/approvals", headers=h).json()
        assert [a["status"] for a in approvals] == ["superseded", "approved"]
        assert approvals[1]["arguments"] == {"n": 9}


def test_deny_is_fed_back_and_cancel_kills_pending_approvals(engine):
    ensure_side_effects(engine)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        rid = c.post(
            "/runs", json={"goal": "bump", "meta": {"script": APPROVE_SCRIPT[:1]}}, headers=h
        ).json()["run_id"]
        drive(engine, gate)
        apr = c.get(f"/runs/{rid}", headers=h).json()["pending_approval_id"]
        c.post(f"/runs/{rid}/approve", json={"approval_id": apr, "decision": "deny"}, headers=h)
        drive(engine, gate)
        run = c.get(f"/runs/{rid}", headers=h).json()
        assert run["status"] == "completed"
        assert "said no" in run["result"]
        assert side_effects(engine, rid) == []

        rid2 = c.post(
            "/runs", json={"goal": "bump", "meta": {"script": APPROVE_SCRIPT}}, headers=h
        ).json()["run_id"]
        drive(engine, gate)
        apr2 = c.get(f"/runs/{rid2}", headers=h).json()["pending_approval_id"]
        assert (
            c.post(f"/runs/{rid2}/cancel", json={"reason": "hung up"}, headers=h).json()["status"]
            == "cancelled"
        )
        late = c.post(
            f"/runs/{rid2}/approve", json={"approval_id": apr2, "decision": "approve"}, headers=h
        )
        assert late.status_code == 409
        resumed = c.post(f"/runs/{rid2}/resume", json={"message": "go on"}, headers=h).json()
        assert resumed["status"] == "queued"
        drive(engine, gate)
        assert side_effects(engine, rid2) == []  # the cancelled approval never executes


def test_limits_fail_the_run_with_a_clear_reason(engine):
    ensure_side_effects(engine)
    gate = gate_with(bump_spec())
    loop = [{"type": "tool_call", "tool": "counter.bump", "arguments": {"n": i}} for i in range(10)]
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        a = c.post(
            "/runs", json={"goal": "loop", "max_steps": 3, "meta": {"script": loop}}, headers=h
        ).json()
        b = c.post(
            "/runs", json={"goal": "loop", "max_tool_calls": 2, "meta": {"script": loop}}, headers=h
        ).json()
        drive(engine, gate)
        ra = c.get(f"/runs/{a['run_id']}", headers=h).json()
        rb = c.get(f"/runs/{b['run_id']}", headers=h).json()
        assert ra["status"] == "failed" and "step limit" in ra["failure_reason"]
        assert rb["status"] == "failed" and "tool call limit" in rb["failure_reason"]
        assert len(side_effects(engine, b["run_id"])) == 2
        assert json.loads(json.dumps(ra))  # serialisable
