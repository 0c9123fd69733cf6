"""/metrics: an operator scrapes run outcomes, approvals, denials, timeouts, fallbacks, resumes
and latency histograms in the Prometheus text format."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert

from core.auth.keys import USERS, create_key
from core.ids import utcnow
from core.metrics import voice
from core.store.model_calls import MODEL_CALLS
from core.tools.spec import RiskLevel, ToolContext
from tests.core.api_harness import api, auth
from tests.core.helpers import bump_spec, drive, ensure_side_effects, gate_with

APPROVE_SCRIPT = [
    {"type": "tool_call", "tool": "counter.bump", "arguments": {"n": 7}},
    {"type": "respond", "message": "bumped"},
]
Labels = dict[str, str]


def operator(engine: Engine) -> dict[str, str]:
    """Headers of a key whose user holds the operator scope."""
    key = create_key(engine, "ops", "root")
    with engine.begin() as conn:
        conn.execute(
            USERS.update()
            .where(USERS.c.tenant_id == "ops", USERS.c.user_id == "root")
            .values(scopes=["operator"])
        )
    return {"Authorization": f"Bearer {key}"}


def scrape(client: Any, headers: dict[str, str]) -> dict[tuple[str, frozenset[Any]], float]:
    """Every sample of /metrics by (name, labels)."""
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_completed_run_and_its_approval_move_the_counters(engine):
    ensure_side_effects(engine)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
    with api(engine, gate) as c:
        ops = operator(engine)
        before = scrape(c, ops)
        assert value(before, "baton_metrics_database_up") == 1
        assert value(before, "baton_runs_finished_total", status="completed") == 0

        h = auth(engine, "acme", "alice")
        rid = c.post(
            "/runs", json={"goal": "bump", "meta": {"script": APPROVE_SCRIPT}}, headers=h
        ).json()["run_id"]
        drive(engine, gate)
        waiting = scrape(c, ops)
        assert value(waiting, "baton_approvals_total", channel="api", outcome="approved") == 0
        apr = c.get(f"/runs/{rid}", headers=h).json()["pending_approval_id"]
        decided = c.post(
            f"/runs/{rid}/approve", json={"approval_id": apr, "decision": "approve"}, headers=h
        )
        assert decided.status_code == 200, decided.text
        approved = scrape(c, ops)
        assert value(approved, "baton_approvals_total", channel="api", outcome="approved") == 1
        drive(engine, gate)
        assert c.get(f"/runs/{rid}", headers=h).json()["status"] == "completed"

        after = scrape(c, ops)
    assert value(after, "baton_runs_finished_total", status="completed") == 1
    assert value(after, "baton_runs_finished_total", status="failed") == 0
    # Histograms live in this process: every step write with a checkpoint, every lease.
    for name in ("baton_checkpoint_write_seconds_count", "baton_queue_delay_seconds_count"):
        assert value(after, name) > value(before, name)


def test_denials_timeouts_resumes_and_fallbacks_are_counted(engine):
    ensure_side_effects(engine)

    async def stuck(_args: dict[str, Any], _ctx: ToolContext) -> dict[str, Any]:
        await asyncio.Event().wait()  # never answers: the gate's timeout ends it
        return {}

    slow = dataclasses.replace(bump_spec(), name="slow.tool", fn=stuck, timeout_s=0.05)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT), slow)
    scripts = {
        "deny": [{"type": "tool_call", "tool": "no.such_tool", "arguments": {}}],
        "slow": [{"type": "tool_call", "tool": "slow.tool", "arguments": {"n": 1}}],
        "resume": APPROVE_SCRIPT,
    }
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        ids = {
            name: c.post(
                "/runs", json={"goal": name, "meta": {"script": script}}, headers=h
            ).json()["run_id"]
            for name, script in scripts.items()
        }
        drive(engine, gate)
        cancelled = c.post(f"/runs/{ids['resume']}/cancel", json={"reason": "hung up"}, headers=h)
        assert cancelled.json()["status"] == "cancelled"
        resumed = c.post(f"/runs/{ids['resume']}/resume", json={"message": "go on"}, headers=h)
        assert resumed.json()["status"] == "queued"
        drive(engine, gate)
        assert c.get(f"/runs/{ids['resume']}", headers=h).json()["status"] == "completed"
        with engine.begin() as conn:
            conn.execute(insert(MODEL_CALLS), [_call("error", "big-down"), _call("ok", "mini")])
        samples = scrape(c, operator(engine))
    assert value(samples, "baton_tool_denials_total", tool="no.such_tool") == 1
    assert value(samples, "baton_tool_timeouts_total", tool="slow.tool") == 1
    assert value(samples, "baton_run_resumes_total", outcome="success") == 1
    assert value(samples, "baton_runs_finished_total", status="cancelled") == 1
    assert value(samples, "baton_approvals_total", channel="none", outcome="cancelled") == 1
    assert value(samples, "baton_model_fallbacks_total", model="big-down") == 1
    assert value(samples, "baton_model_fallbacks_total", model="mini") == 0


def _call(status: str, model_name: str) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "user_id": "alice",
        "run_id": "run_fallback",
        "step": 1,
        "task_type": "decision",
        "model": f"openai/{model_name}",
        "model_name": model_name,
        "status": status,
        "attempt": 1,
        "input_tokens": 10,
        "output_tokens": 5,
        "latency_ms": 1.0,
        "cost_usd": 0.0,
        "created_at": utcnow(),
    }


def test_voice_reports_reach_the_scrape(engine):
    with api(engine, gate_with()) as c:
        ops = operator(engine)
        before = scrape(c, ops)
        voice.call_started()
        try:
            voice.turn_latency(0.8)
            during = scrape(c, ops)
        finally:
            voice.call_ended()
        after = scrape(c, ops)
    calls = "baton_voice_active_calls"
    assert value(during, calls) == value(before, calls) + 1
    assert value(after, calls) == value(before, calls)
    assert value(during, "baton_voice_turn_latency_seconds_count") == (
        value(before, "baton_voice_turn_latency_seconds_count") + 1
    )


def test_metrics_need_an_operator_key_unless_public(engine):
    with api(engine, gate_with()) as c:
        missing = c.get("/metrics")
        assert missing.status_code == 401
        assert "API key" in missing.json()["detail"]
        assert c.get("/metrics", headers={"Authorization": "Bearer bk_nope"}).status_code == 401
        plain = c.get("/metrics", headers=auth(engine, "acme", "alice"))
        assert plain.status_code == 403
        assert "operator" in plain.json()["detail"]
    with api(engine, gate_with(), metrics_public=True) as c:
        public = c.get("/metrics")
        assert public.status_code == 200
        assert "baton_runs_finished" in public.text
