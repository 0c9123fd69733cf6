"""Cost attribution rows and budgets, on SQLite and Postgres, with real gateway calls."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from core.agent.accounting import budget_for, record_model_calls, spend
from core.config import Settings
from core.store.model_calls import MODEL_CALLS
from models.contract import AgentError
from tests.models.conftest import stub_spec
from tests.models.openai_server import OpenAIStub, Reply
from tests.models.test_gateway import ANSWER, agent_for, make_pack


async def test_every_call_is_attributed_to_tenant_user_run_and_task(
    engine: Engine, stub: OpenAIStub
) -> None:
    stub.model("down", Reply(status=500))
    stub.model("mini", Reply(content=ANSWER, prompt_tokens=2000, completion_tokens=50))
    agent = agent_for(stub_spec(stub, "down"), stub_spec(stub, "mini"))
    pack = make_pack(tenant_id="acme", user_id="ann", run_id="run_a", step=3)

    result = await agent.decide(pack)
    with engine.begin() as conn:
        record_model_calls(
            conn,
            tenant_id=pack.tenant_id,
            user_id=pack.user_id,
            run_id=pack.run_id,
            step=pack.step,
            task_type=pack.task_type,
            calls=result.calls,
        )
        record_model_calls(  # another tenant's spend must not leak into acme's figures
            conn,
            tenant_id="globex",
            user_id="bob",
            run_id="run_b",
            step=1,
            task_type="decision",
            calls=result.calls,
        )

    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(MODEL_CALLS)
                .where(MODEL_CALLS.c.tenant_id == "acme")
                .order_by(MODEL_CALLS.c.attempt)
            )
            .mappings()
            .all()
        )
        figures = spend(conn, tenant_id="acme", run_id="run_a")
    expected = 2000 * 0.15e-6 + 50 * 0.6e-6
    assert [(r["model_name"], r["status"]) for r in rows] == [("down", "error"), ("mini", "ok")]
    ok = rows[1]
    assert (ok["user_id"], ok["run_id"], ok["step"], ok["task_type"]) == (
        "ann",
        "run_a",
        3,
        "decision",
    )
    assert (ok["model"], ok["input_tokens"], ok["output_tokens"]) == (
        "openai/gpt-4o-mini",
        2000,
        50,
    )
    assert ok["cost_usd"] == pytest.approx(expected)
    assert ok["latency_ms"] > 0
    assert "HTTP 500" in rows[0]["error"]
    assert figures["run_spent_usd"] == pytest.approx(expected)
    assert figures["tenant_spent_usd"] == pytest.approx(expected)


async def test_run_budget_runs_out_and_the_next_call_is_refused(
    engine: Engine, stub: OpenAIStub
) -> None:
    stub.model("mini", Reply(content=ANSWER, prompt_tokens=4000, completion_tokens=100))
    agent = agent_for(stub_spec(stub, "mini", max_output_tokens=100))
    settings = Settings(run_budget_usd=0.0007, tenant_budget_usd=1.0)

    spent_calls = 0
    with pytest.raises(AgentError) as err:
        for step in range(1, 20):
            with engine.connect() as conn:
                budget = budget_for(conn, settings, tenant_id="acme", run_id="run_a")
            pack = make_pack(run_id="run_a", step=step, budget=budget)
            result = await agent.decide(pack)
            spent_calls += 1
            with engine.begin() as conn:
                record_model_calls(
                    conn,
                    tenant_id="acme",
                    user_id="ann",
                    run_id="run_a",
                    step=step,
                    task_type="decision",
                    calls=result.calls,
                )

    # A call costs $0.00066 (4000 in, 100 out); what is left of $0.0007 cannot cover another.
    assert spent_calls == 1
    assert "budget exhausted" in str(err.value)
    with engine.connect() as conn:
        budget = budget_for(conn, settings, tenant_id="acme", run_id="run_a")
        fresh = budget_for(conn, settings, tenant_id="acme", run_id="run_b")
    assert budget["run_remaining_usd"] == pytest.approx(0.0007 - 0.00066)
    assert budget["tenant_remaining_usd"] == pytest.approx(1.0 - 0.00066)
    assert fresh["run_remaining_usd"] == pytest.approx(0.0007)
    assert len(stub.requests("mini")) == 1


def test_unlimited_budgets_read_as_none(engine: Engine) -> None:
    with engine.connect() as conn:
        budget = budget_for(conn, Settings(), tenant_id="acme", run_id="run_x")
    assert budget["run_remaining_usd"] is None
    assert budget["tenant_remaining_usd"] is None
