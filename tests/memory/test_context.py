"""Context packs: scoped memories, allowed tools only, history within the token budget, and
references that let a step be audited."""

from __future__ import annotations

import pytest

from core.context.assemble import ContextBudgetExceeded, assemble_context
from core.context.tokens import TokenCounter
from core.profiles import profile_for
from core.runs.service import RunStore
from models.contract import ToolSchema
from tests.memory.helpers import seed

TOOLS = [
    ToolSchema(
        name="weather.get",
        description="Current weather for a city",
        input_schema={"type": "object", "properties": {"city": {"type": "string"}}},
    ),
]


def _run(engine, goal: str, user: str = "alice", channel: str = "voice"):
    store = RunStore(engine)
    run = store.create_run("t1", user, goal, channel=channel)
    return store.get_run("t1", user, run["run_id"])


def _pack(engine, run, state, token_budget=2000, budget=None, tools=TOOLS):
    with engine.connect() as conn:
        return assemble_context(
            conn,
            run=run,
            state=state,
            tools=tools,
            profile=profile_for(run["channel"]),
            budget=budget or {},
            token_budget=token_budget,
        )


def test_pack_carries_relevant_memories_of_this_user_only(engine):
    units = seed(
        engine,
        "t1",
        "alice",
        "Wants temperatures in Celsius, distances in km.",
        memory_type="preference",
    )
    seed(engine, "t1", "alice", "Her dentist appointment is every March.")
    seed(engine, "t1", "bob", "Prefers Fahrenheit for temperatures.", memory_type="preference")
    run = _run(engine, "What's the temperature in Oslo right now?")
    state = {"messages": [{"role": "user", "content": run["goal"]}], "decisions": 0}

    pack = _pack(engine, run, state)

    assert [m["memory_id"] for m in pack.memories] == [units["memory_id"]]
    assert f"memory:{units['memory_id']}" in pack.refs
    assert pack.tools == TOOLS and "tool:weather.get" in pack.refs
    assert pack.response_profile["channel"] == "voice"
    assert any("40 words" in line for line in pack.policy)
    assert pack.run_state["status"] == run["status"]
    assert pack.goal == run["goal"]
    assert "propose_memory" in pack.system


def test_long_history_is_summarised_within_the_token_budget(engine):
    run = _run(engine, "Plan my week")
    turns = []
    for i in range(40):
        turns.append(
            {
                "role": "user",
                "content": f"Turn {i}: please also consider meeting "
                f"number {i} with the design team. " + "Details follow. " * 20,
            }
        )
        turns.append({"role": "assistant", "content": f"Noted meeting {i}. " + "Okay. " * 20})
    state = {"messages": turns, "decisions": 3}

    pack = _pack(engine, run, state, token_budget=2500)

    tokens = pack.budget["context_tokens"]
    assert tokens["used"] <= 2500 and tokens["counted_with"] == "estimate"
    assert tokens["summarised_messages"] > 0
    summary = pack.messages[0]
    assert summary.role == "system" and summary.content.startswith("Earlier in this conversation")
    assert pack.messages[-1].content == turns[-1]["content"]
    assert f"message:{len(turns) - 1}" in pack.refs
    assert any(r.startswith("summary:") for r in pack.refs)
    # Recount independently: the whole pack stays inside the budget.
    counter = TokenCounter()
    total = (
        counter.count(pack.system)
        + counter.count(pack.goal)
        + sum(counter.count(m.content) + 4 for m in pack.messages)
        + counter.count_json([t.model_dump() for t in pack.tools])
        + counter.count_json(pack.response_profile)
        + counter.count_json(pack.run_state)
        + counter.count("\n".join(pack.policy))
        + counter.count_json(pack.memories)
    )
    assert total <= 2500


def test_short_history_is_kept_verbatim(engine):
    run = _run(engine, "Hello")
    state = {
        "messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi, how can I help?"},
            {"role": "user", "content": "What time is it?"},
        ]
    }
    pack = _pack(engine, run, state)
    assert [m.content for m in pack.messages] == [m["content"] for m in state["messages"]]
    assert pack.budget["context_tokens"]["summarised_messages"] == 0


def test_tokens_counted_with_the_models_tokenizer_when_litellm_knows_it(engine):
    run = _run(engine, "Hello")
    state = {"messages": [{"role": "user", "content": "Hello"}]}
    known = _pack(engine, run, state, budget={"model": "gpt-4o-mini"})
    unknown = _pack(engine, run, state, budget={"model": "openai/smollm2-135m"})
    assert known.budget["context_tokens"]["counted_with"] == "litellm:gpt-4o-mini"
    assert unknown.budget["context_tokens"]["counted_with"] == "estimate"
    assert known.budget["model"] == "gpt-4o-mini"


def test_a_budget_too_small_for_the_essentials_is_a_clear_error(engine):
    run = _run(engine, "Hello")
    with pytest.raises(ContextBudgetExceeded, match="budget is 50"):
        _pack(engine, run, {"messages": []}, token_budget=50)
