"""The gateway over real HTTP and the real litellm client: fallback, breakers, budgets,
validation with retries, cascades, streaming and log hygiene."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from models.agent import GatewayAgent
from models.config import GatewayConfig, ModelSpec
from models.contract import AgentError, ContextPack, ToolSchema
from models.gateway import Gateway
from tests.models.conftest import stub_spec
from tests.models.openai_server import OpenAIStub, Reply

CALENDAR = ToolSchema(
    name="calendar.create_event",
    description="Add an event to the calendar.",
    input_schema={
        "type": "object",
        "properties": {"title": {"type": "string"}, "start": {"type": "string"}},
        "required": ["title", "start"],
    },
)
ANSWER = '{"type": "respond", "message": "Paris."}'


def make_pack(**fields: Any) -> ContextPack:
    data: dict[str, Any] = {
        "tenant_id": "acme",
        "user_id": "ann",
        "run_id": "run_1",
        "step": 1,
        "goal": "what is the capital of France",
        "tools": [CALENDAR],
    }
    data.update(fields)
    return ContextPack(**data)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def agent_for(*specs: ModelSpec, clock: Clock | None = None, **config: Any) -> GatewayAgent:
    gateway = Gateway(GatewayConfig(models=list(specs), **config), clock=clock or Clock())
    return GatewayAgent(gateway)


async def test_falls_back_past_a_500_and_a_timeout(stub: OpenAIStub) -> None:
    stub.model("broken", Reply(status=500))
    stub.model("slow", Reply(content=ANSWER, delay_s=2.0))
    stub.model("good", Reply(content=ANSWER))
    agent = agent_for(
        stub_spec(stub, "broken"),
        stub_spec(stub, "slow", timeout_s=0.5),
        stub_spec(stub, "good"),
    )

    result = await agent.decide(make_pack())

    assert result.decision.type == "respond"
    assert [c.model_name for c in result.calls] == ["broken", "slow", "good"]
    assert [c.status for c in result.calls] == ["error", "error", "ok"]
    assert "HTTP 500" in (result.calls[0].error or "")
    assert "timeout" in (result.calls[1].error or "")
    # No hidden retries inside litellm or the OpenAI client: one request per model.
    assert len(stub.requests("broken")) == 1


async def test_all_models_failing_fails_the_step_with_each_reason(stub: OpenAIStub) -> None:
    stub.model("a", Reply(status=503))
    stub.model("b", Reply(status=500))
    agent = agent_for(stub_spec(stub, "a"), stub_spec(stub, "b"))

    with pytest.raises(AgentError) as err:
        await agent.decide(make_pack())

    assert "a: " in str(err.value) and "b: " in str(err.value)
    assert [c.status for c in err.value.calls] == ["error", "error"]


async def test_breaker_opens_then_lets_one_trial_through_after_cool_down(
    stub: OpenAIStub,
) -> None:
    stub.model("flaky", Reply(status=500))
    stub.model("backup", Reply(content=ANSWER))
    clock = Clock()
    agent = agent_for(
        stub_spec(stub, "flaky"),
        stub_spec(stub, "backup"),
        clock=clock,
        breaker_failure_threshold=2,
        breaker_cooldown_s=30.0,
    )
    breaker = agent.gateway.breakers.get("flaky")

    for _ in range(2):
        await agent.decide(make_pack())
    assert breaker.state == "open"

    await agent.decide(make_pack())  # skipped while open
    assert len(stub.requests("flaky")) == 2

    clock.now += 31  # half-open: one trial, which fails and re-opens
    assert breaker.state == "half_open"
    result = await agent.decide(make_pack())
    assert [c.model_name for c in result.calls] == ["flaky", "backup"]
    assert breaker.state == "open"
    await agent.decide(make_pack())
    assert len(stub.requests("flaky")) == 3

    stub.model("flaky", Reply(content=ANSWER))  # the provider recovers
    clock.now += 31
    result = await agent.decide(make_pack())
    assert [c.model_name for c in result.calls] == ["flaky"]
    assert breaker.state == "closed"


def test_half_open_breaker_admits_a_single_trial() -> None:
    from models.breaker import CircuitBreaker

    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10.0, clock=clock)
    assert breaker.acquire()
    breaker.record_failure()
    assert not breaker.acquire()
    clock.now += 10
    assert breaker.acquire()
    assert not breaker.acquire()  # a second caller waits for the trial's outcome
    breaker.record_success()
    assert breaker.acquire() and breaker.acquire()


async def test_invalid_output_is_retried_with_the_error_then_fails(stub: OpenAIStub) -> None:
    stub.model(
        "m",
        Reply(content='{"type": "tool_call", "tool": "email.send", "arguments": {}}'),
        Reply(content="Sure! I will book it."),
        Reply(content='{"type": "tool_call", "tool": "calendar.create_event", "arguments": {}}'),
    )
    agent = agent_for(stub_spec(stub, "m"), max_attempts=3)

    with pytest.raises(AgentError) as err:
        await agent.decide(make_pack(goal="book lunch"))

    assert "no valid answer after 3 attempts" in str(err.value)
    assert "'title' is a required property" in str(err.value)
    assert [c.status for c in err.value.calls] == ["invalid"] * 3
    requests = stub.requests("m")
    assert len(requests) == 3
    fed_back = requests[1]["messages"][-1]["content"]
    assert "unknown tool 'email.send'" in fed_back
    assert "not JSON" in requests[2]["messages"][-1]["content"]
    # The step's schema went to the provider for constrained decoding.
    schema = requests[0]["response_format"]["json_schema"]["schema"]
    tools = [b["properties"]["tool"] for b in schema["oneOf"] if "tool" in b["properties"]]
    assert tools == [{"const": "calendar.create_event"}]


async def test_invalid_then_valid_output_succeeds(stub: OpenAIStub) -> None:
    call = (
        '{"type": "tool_call", "tool": "calendar.create_event", '
        '"arguments": {"title": "Lunch", "start": "2026-11-22T12:00:00"}}'
    )
    stub.model("m", Reply(content='{"type": "respond"}'), Reply(content=call))
    agent = agent_for(stub_spec(stub, "m"))

    result = await agent.decide(make_pack(goal="book lunch tomorrow at noon"))

    assert result.decision.type == "tool_call"
    assert result.decision.tool == "calendar.create_event"
    assert [c.status for c in result.calls] == ["invalid", "ok"]


async def test_cascade_escalates_to_the_stronger_model_when_validation_fails(
    stub: OpenAIStub,
) -> None:
    stub.model("cheap", Reply(content="not json"))
    stub.model("strong", Reply(content=ANSWER))
    agent = agent_for(
        stub_spec(stub, "cheap"),
        stub_spec(stub, "strong", model="openai/gpt-4o"),
        routes={"decision": ["cheap", "strong"]},
    )

    result = await agent.decide(make_pack())

    assert [(c.model_name, c.status) for c in result.calls] == [
        ("cheap", "invalid"),
        ("strong", "ok"),
    ]
    # The stronger model sees what the cheap one said and why it was rejected.
    assert "rejected" in stub.requests("strong")[0]["messages"][-1]["content"]


async def test_budget_refuses_a_call_it_cannot_cover(stub: OpenAIStub) -> None:
    stub.model("m", Reply(content=ANSWER))
    agent = agent_for(stub_spec(stub, "m"))

    with pytest.raises(AgentError) as err:
        await agent.decide(make_pack(budget={"run_remaining_usd": 0.0000001}))

    assert "budget exhausted" in str(err.value)
    assert "run has $0.000000 left" in str(err.value)
    assert stub.requests("m") == []


async def test_budget_skips_a_dear_model_for_a_free_one(stub: OpenAIStub) -> None:
    stub.model("dear", Reply(content=ANSWER))
    stub.model("free", Reply(content=ANSWER))
    agent = agent_for(
        stub_spec(stub, "dear", model="openai/gpt-4o"),
        stub_spec(stub, "free", input_cost_per_token=0.0, output_cost_per_token=0.0),
    )

    result = await agent.decide(make_pack(budget={"tenant_remaining_usd": 0.0001}))

    assert [c.model_name for c in result.calls] == ["free"]
    assert stub.requests("dear") == []


async def test_cost_comes_from_the_litellm_price_map(stub: OpenAIStub) -> None:
    stub.model("m", Reply(content=ANSWER, prompt_tokens=1000, completion_tokens=100))
    agent = agent_for(stub_spec(stub, "m"))

    result = await agent.decide(make_pack())

    call = result.calls[0]
    assert (call.input_tokens, call.output_tokens) == (1000, 100)
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    assert call.cost_usd == pytest.approx(1000 * 0.15e-6 + 100 * 0.6e-6)
    assert call.model == "openai/gpt-4o-mini"
    assert call.latency_ms > 0


async def test_confidential_data_only_goes_to_local_models(stub: OpenAIStub) -> None:
    stub.model("hosted", Reply(content=ANSWER))
    stub.model("local", Reply(content=ANSWER))
    agent = agent_for(stub_spec(stub, "hosted"), stub_spec(stub, "local", local=True))

    result = await agent.decide(make_pack(constraints={"data_sensitivity": "confidential"}))
    assert [c.model_name for c in result.calls] == ["local"]

    stub.model("local", Reply(status=500))
    with pytest.raises(AgentError) as err:
        await agent.decide(make_pack(constraints={"data_sensitivity": "confidential"}))
    assert "confidential data stays on local models" in str(err.value)
    assert stub.requests("hosted") == []


async def test_latency_budget_prefers_a_fast_model(stub: OpenAIStub) -> None:
    stub.model("slow", Reply(content=ANSWER))
    stub.model("fast", Reply(content=ANSWER))
    agent = agent_for(
        stub_spec(stub, "slow", typical_latency_ms=4000),
        stub_spec(stub, "fast", typical_latency_ms=300),
    )

    result = await agent.decide(make_pack(constraints={"latency_budget_ms": 1000}))

    assert [c.model_name for c in result.calls] == ["fast"]


async def test_routes_map_task_types_to_models(stub: OpenAIStub) -> None:
    stub.model("planner", Reply(content=ANSWER))
    stub.model("classifier", Reply(content='{"type": "respond", "message": "yes"}'))
    agent = agent_for(
        stub_spec(stub, "planner"),
        stub_spec(stub, "classifier"),
        routes={"classification": ["classifier"], "*": ["planner"]},
    )

    yes = await agent.decide(make_pack(task_type="classification", goal="did they agree"))
    plan = await agent.decide(make_pack(task_type="planning"))

    assert yes.decision.type == "respond" and yes.decision.message == "yes"
    assert [c.model_name for c in yes.calls] == ["classifier"]
    assert [c.model_name for c in plan.calls] == ["planner"]
    labels = stub.requests("classifier")[0]["response_format"]["json_schema"]["schema"]
    assert labels["properties"]["message"] == {"enum": ["yes", "no", "unclear"]}


async def test_stream_falls_back_before_the_first_token(stub: OpenAIStub) -> None:
    stub.model("down", Reply(status=502))
    stub.model("up", Reply(content="Your meeting is booked for ten.", completion_tokens=8))
    gateway = Gateway(GatewayConfig(models=[stub_spec(stub, "down"), stub_spec(stub, "up")]))
    records: list[Any] = []

    pieces = [
        piece
        async for piece in gateway.stream_text(
            task_type="voice_summary",
            messages_for=lambda _spec: [{"role": "user", "content": "summarise"}],
            records=records,
        )
    ]

    assert "".join(pieces) == "Your meeting is booked for ten."
    assert len(pieces) > 1
    assert [(r.model_name, r.status) for r in records] == [("down", "error"), ("up", "ok")]
    assert records[1].output_tokens == 8
    assert records[1].cost_usd > 0


async def test_no_key_and_no_prompt_in_logs_by_default(
    stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.model("m", Reply(status=500))
    stub.model("n", Reply(content=ANSWER))
    agent = agent_for(stub_spec(stub, "m"), stub_spec(stub, "n"))
    secret_goal = "my card number is 4111 1111 1111 1111 and I want a loan"

    with caplog.at_level(logging.DEBUG):
        await agent.decide(make_pack(goal=secret_goal))

    text = caplog.text
    assert "DO-NOT-LOG" not in text
    assert "4111" not in text and "loan" not in text
    assert "falling back" in text  # the failure itself is logged


async def test_debug_switch_logs_redacted_prompts(
    stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.model("m", Reply(content=ANSWER))
    agent = agent_for(stub_spec(stub, "m"), debug_prompts=True)

    with caplog.at_level(logging.DEBUG, logger="models.gateway"):
        await agent.decide(make_pack(goal="email ann@example.com the code sk-live-abcdefghijkl"))

    text = caplog.text
    assert "email <email> the code <secret>" in text
    assert "ann@example.com" not in text and "abcdefghijkl" not in text


async def test_a_model_that_ignores_structured_output_still_validates(stub: OpenAIStub) -> None:
    fenced = "```json\n" + json.dumps({"type": "ask_human", "question": "Which day?"}) + "\n```"
    stub.model("plain", Reply(content=fenced))
    agent = agent_for(stub_spec(stub, "plain", structured="none"))

    result = await agent.decide(make_pack(goal="book a meeting"))

    assert result.decision.type == "ask_human"
    assert "response_format" not in stub.requests("plain")[0]
