"""The gate's checks in order: schema, scopes, rate limit, breaker, approval; execution with
timeout, safe retries and normalised results."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.tools.gate import ToolGate
from core.tools.guards import Guards
from core.tools.policy import ApprovalPolicy
from core.tools.registry import ToolRegistry
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolError, ToolResult, ToolSpec


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(name: str, fn: Any = None, **kw: Any) -> ToolSpec:
    async def echo(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        return {"echo": args}

    kw.setdefault("input_schema", {"type": "object", "additionalProperties": True})
    return ToolSpec(name=name, description=name, fn=fn or echo, **kw)


def gate_of(*specs: ToolSpec, policy: ApprovalPolicy | None = None, **guards: Any) -> ToolGate:
    return ToolGate(ToolRegistry(specs, policy=policy, guards=Guards(**guards)), retry_wait_s=0.01)


def test_level_3_and_4_wait_for_a_human_by_default_and_lower_levels_do_not():
    gate = gate_of(*(spec(f"t{lvl}", risk_level=RiskLevel(lvl)) for lvl in range(5)))
    outcomes = [gate.judge("acme", "alice", f"t{lvl}", {}).outcome for lvl in range(5)]
    assert outcomes == ["allow", "allow", "allow", "approve", "approve"]
    approved = gate.judge("acme", "alice", "t3", {}, approved=True)
    assert approved.outcome == "allow"
    assert "approved" in approved.checks


def test_approval_policy_is_configurable_per_tenant_but_level_4_is_never_waived():
    policy = ApprovalPolicy.from_settings(
        3,
        {
            "strict": {"min_level": 1},
            "relaxed": {"waive": ["send", "deploy"], "require": ["read"]},
        },
    )
    gate = gate_of(
        spec("read", risk_level=RiskLevel.PURE_READ),
        spec("note", risk_level=RiskLevel.LOCAL_WRITE),
        spec("send", risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT),
        spec("deploy", risk_level=RiskLevel.HIGH_RISK),
        policy=policy,
    )

    def outcome(tenant: str, tool: str) -> str:
        return gate.judge(tenant, "u", tool, {}).outcome

    assert [outcome("other", t) for t in ("read", "note", "send", "deploy")] == [
        "allow",
        "allow",
        "approve",
        "approve",
    ]
    assert [outcome("strict", t) for t in ("read", "note", "send")] == [
        "allow",
        "approve",
        "approve",
    ]
    assert outcome("relaxed", "send") == "allow"
    assert outcome("relaxed", "deploy") == "approve"
    assert outcome("relaxed", "read") == "approve"
    verdict = gate.judge("relaxed", "u", "deploy", {})
    assert verdict.as_event()["approval_rule"] == "level 4 always needs approval"


def test_a_tool_outside_the_users_scopes_is_hidden_and_refused():
    gate = gate_of(
        spec("notes_search", scopes=("notes:read",)), spec("email_send", scopes=("email:send",))
    )
    visible = [t.name for t in gate.visible_tools("acme", "alice", {"notes:read"})]
    assert visible == ["notes_search"]
    verdict = gate.judge("acme", "alice", "email_send", {}, scopes={"notes:read"})
    assert verdict.outcome == "deny"
    assert verdict.error_type == "permission_denied"
    assert verdict.checks == ["exists", "schema_valid"]
    # no explicit scope list: the embedded single-user default sees everything
    assert len(gate.visible_tools("acme", "alice", None)) == 2


def test_invalid_arguments_and_unknown_tools_are_denied_with_a_reason():
    gate = gate_of(
        spec(
            "book",
            input_schema={
                "type": "object",
                "required": ["title"],
                "properties": {"title": {"type": "string"}},
            },
        )
    )
    bad = gate.judge("acme", "alice", "book", {"title": 7})
    assert (bad.outcome, bad.error_type) == ("deny", "invalid_arguments")
    assert "title" in bad.reason
    assert bad.as_result().status == "denied"
    unknown = gate.judge("acme", "alice", "rm_rf", {})
    assert (unknown.outcome, unknown.error_type) == ("deny", "unknown_tool")


def test_verdict_event_carries_the_audit_record():
    gate = gate_of(
        spec("email_send", risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT, scopes=("email:send",))
    )
    event = gate.judge("acme", "alice", "email_send", {"to": ["a@b.c"]}).as_event()
    assert event["outcome"] == "approve"
    assert event["tool"] == "email_send"
    assert event["risk_level"] == 3
    assert event["checks"] == [
        "exists",
        "schema_valid",
        "permitted",
        "rate_ok",
        "breaker_closed",
        "approval_required(level 3)",
    ]
    assert event["tenant_id"] == "acme" and event["user_id"] == "alice"
    assert len(event["arguments_hash"]) == 64
    assert event["approval_rule"].startswith("level 3 >= tenant threshold 3")


def test_rate_limit_is_a_token_bucket_per_tool_and_tenant():
    clock = FakeClock()
    gate = gate_of(spec("search"), rate_per_minute=60, rate_burst=2, clock=clock)
    results = [gate.judge("acme", "alice", "search", {}).outcome for _ in range(3)]
    assert results == ["allow", "allow", "deny"]
    limited = gate.judge("acme", "bob", "search", {})
    assert limited.outcome == "deny"  # same tenant shares the bucket
    assert limited.error_type == "rate_limited" and limited.retryable
    assert limited.details["retry_after_s"] > 0
    assert gate.judge("globex", "carol", "search", {}).outcome == "allow"  # other tenant
    clock.now += 1.0  # one token back at 60/min
    assert gate.judge("acme", "alice", "search", {}).outcome == "allow"
    assert gate.judge("acme", "alice", "search", {}).outcome == "deny"


def test_rate_limits_hold_per_user_and_per_tenant():
    clock = FakeClock()
    gate = gate_of(
        spec("search"),
        rate_per_minute=60,
        rate_burst=3,
        user_rate_per_minute=60,
        user_rate_burst=2,
        clock=clock,
    )
    alice = [gate.judge("acme", "alice", "search", {}).outcome for _ in range(3)]
    assert alice == ["allow", "allow", "deny"]  # alice's own bucket is empty
    assert gate.judge("acme", "bob", "search", {}).outcome == "allow"  # the tenant's last one
    carol = gate.judge("acme", "carol", "search", {})
    assert (carol.error_type, carol.retryable) == ("rate_limited", True)
    assert carol.retry_after_s == pytest.approx(1.0)
    assert gate.judge("globex", "dave", "search", {}).outcome == "allow"


def test_a_refused_call_that_will_come_back_keeps_its_place_in_line():
    clock = FakeClock()
    gate = gate_of(spec("search"), user_rate_per_minute=60, user_rate_burst=1, clock=clock)

    def judge(call_id: str | None) -> tuple[str, float | None]:
        verdict = gate.judge("acme", "alice", "search", {}, call_id=call_id)
        return verdict.outcome, verdict.retry_after_s

    assert judge("first") == ("allow", None)
    assert judge("second") == ("deny", pytest.approx(1.0))
    assert judge("third") == ("deny", pytest.approx(2.0))  # behind the second
    clock.now += 1.0
    assert judge("third") == ("deny", pytest.approx(1.0))  # still its turn in a second
    assert judge(None)[0] == "deny"  # a newcomer does not jump the line
    assert judge("second") == ("allow", None)
    clock.now += 1.0
    assert judge("third") == ("allow", None)


async def test_breaker_opens_after_repeated_failures_and_recovers_after_a_trial(make_ctx):
    clock = FakeClock()
    healthy = {"up": False}
    calls = {"n": 0}

    async def flaky(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        calls["n"] += 1
        if not healthy["up"]:
            raise ToolError("upstream_unavailable", "crm is down", retryable=True)
        return {"ok": True}

    gate = gate_of(spec("crm_get", flaky), breaker_failures=3, breaker_cooldown_s=30, clock=clock)
    ctx = make_ctx(None)
    for _ in range(3):
        assert gate.judge("acme", "alice", "crm_get", {}).outcome == "allow"
        result = await gate.execute(gate.registry.get("crm_get"), {}, ctx)
        assert result.status == "failed" and result.error_type == "upstream_unavailable"
    refused = gate.judge("acme", "alice", "crm_get", {})
    assert (refused.outcome, refused.error_type) == ("deny", "circuit_open")
    assert refused.retryable
    assert calls["n"] == 3  # the open breaker kept calls away from the tool

    clock.now += 31  # cool-down over: one trial call, which fails -> open again
    trial = gate.judge("acme", "alice", "crm_get", {})
    assert trial.outcome == "allow" and "breaker_half_open" in trial.checks
    # one trial at a time; judging the same call again (a retried step) keeps its trial
    assert gate.judge("acme", "alice", "crm_get", {"id": 2}).error_type == "circuit_open"
    assert gate.judge("acme", "alice", "crm_get", {}).outcome == "allow"
    await gate.execute(gate.registry.get("crm_get"), {}, ctx)
    assert gate.judge("acme", "alice", "crm_get", {}).error_type == "circuit_open"

    clock.now += 31
    healthy["up"] = True
    assert gate.judge("acme", "alice", "crm_get", {}).outcome == "allow"
    result = await gate.execute(gate.registry.get("crm_get"), {}, ctx)
    assert result.status == "succeeded"
    assert gate.registry.guards.breakers.state("crm_get") == "closed"
    assert gate.judge("acme", "alice", "crm_get", {}).outcome == "allow"


async def test_argument_errors_do_not_trip_the_breaker(make_ctx):
    async def picky(args: dict[str, Any], ctx: ToolContext) -> None:
        raise ToolError("conflict", "slot taken")

    gate = gate_of(spec("book", picky), breaker_failures=2)
    for _ in range(4):
        result = await gate.execute(gate.registry.get("book"), {}, make_ctx(None))
        assert result.error_type == "conflict"
    assert gate.judge("acme", "alice", "book", {}).outcome == "allow"


async def test_a_timed_out_tool_yields_a_normalised_retryable_error(make_ctx):
    async def slow(args: dict[str, Any], ctx: ToolContext) -> None:
        await asyncio.sleep(30)

    gate = gate_of(spec("slow", slow, timeout_s=0.2))
    result = await gate.execute(gate.registry.get("slow"), {}, make_ctx(None))
    assert result.for_agent() == {
        "status": "failed",
        "error_type": "timeout",
        "retryable": True,
        "message": "slow timed out after 0.2 s",
        "data": None,
    }


async def test_a_timed_out_unsafe_tool_is_not_called_retryable(make_ctx):
    async def slow(args: dict[str, Any], ctx: ToolContext) -> None:
        await asyncio.sleep(30)

    gate = gate_of(spec("pay", slow, timeout_s=0.1, idempotency=Idempotency.UNSAFE, max_attempts=3))
    result = await gate.execute(gate.registry.get("pay"), {}, make_ctx(None))
    assert (result.error_type, result.retryable, result.attempts) == ("timeout", False, 1)
    assert "may or may not have taken effect" in result.message


async def test_retries_only_when_the_tool_is_safe_to_replay(make_ctx):
    attempts: dict[str, int] = {}

    def failing_twice(name: str) -> Any:
        async def fn(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
            attempts[name] = attempts.get(name, 0) + 1
            if attempts[name] <= 2:
                raise ToolError("upstream_unavailable", "try again", retryable=True)
            return {"attempt": attempts[name]}

        return fn

    gate = gate_of(
        spec("safe", failing_twice("safe"), max_attempts=3),
        spec("keyed", failing_twice("keyed"), max_attempts=3, idempotency=Idempotency.KEYED),
        spec("unsafe", failing_twice("unsafe"), max_attempts=3, idempotency=Idempotency.UNSAFE),
    )
    ctx = make_ctx(None)
    safe = await gate.execute(gate.registry.get("safe"), {}, ctx)
    keyed = await gate.execute(gate.registry.get("keyed"), {}, ctx)
    unsafe = await gate.execute(gate.registry.get("unsafe"), {}, ctx)
    assert (safe.status, safe.attempts) == ("succeeded", 3)
    assert (keyed.status, keyed.attempts) == ("succeeded", 3)
    assert (unsafe.status, unsafe.attempts, unsafe.retryable) == ("failed", 1, True)
    assert attempts == {"safe": 3, "keyed": 3, "unsafe": 1}


async def test_results_are_normalised_whatever_the_tool_returns(make_ctx):
    async def crashes(args: dict[str, Any], ctx: ToolContext) -> None:
        raise KeyError("boom")

    async def off_schema(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        return {"count": "many"}

    async def custom(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return ToolResult.ok({"n": 1}, message="one")

    schema = {"type": "object", "properties": {"count": {"type": "integer"}}}
    gate = gate_of(
        spec("crashes", crashes),
        spec("off_schema", off_schema, result_schema=schema),
        spec("custom", custom),
    )
    ctx = make_ctx(None)
    crashed = await gate.execute(gate.registry.get("crashes"), {}, ctx)
    assert (crashed.status, crashed.error_type, crashed.retryable) == (
        "failed",
        "tool_error",
        False,
    )
    assert "KeyError" in crashed.message
    off = await gate.execute(gate.registry.get("off_schema"), {}, ctx)
    assert off.error_type == "invalid_result"
    ok = await gate.execute(gate.registry.get("custom"), {}, ctx)
    assert ok.for_agent() == {
        "status": "succeeded",
        "error_type": None,
        "retryable": False,
        "message": "one",
        "data": {"n": 1},
    }
    assert ok.duration_ms is not None


def test_a_tool_with_an_invalid_schema_is_refused_at_registration():
    with pytest.raises(ValueError, match="invalid JSON schema"):
        ToolRegistry([spec("broken", input_schema={"type": "objekt"})])


async def test_a_call_waiting_for_approval_does_not_use_up_the_half_open_trial(make_ctx):
    clock = FakeClock()

    async def down(args: dict[str, Any], ctx: ToolContext) -> None:
        raise ToolError("upstream_unavailable", "down", retryable=True)

    gate = gate_of(
        spec("send", down, risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT),
        breaker_failures=1,
        breaker_cooldown_s=30,
        clock=clock,
    )
    await gate.execute(gate.registry.get("send"), {}, make_ctx(None))
    assert gate.judge("acme", "alice", "send", {}).error_type == "circuit_open"
    clock.now += 31
    assert gate.judge("acme", "alice", "send", {}).outcome == "approve"
    assert gate.registry.guards.breakers.state("send") == "open"  # no trial taken
    approved = gate.judge("acme", "alice", "send", {}, approved=True)
    assert approved.outcome == "allow" and "breaker_half_open" in approved.checks
