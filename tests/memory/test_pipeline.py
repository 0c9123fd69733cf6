"""The write pipeline driven through the run core: a scripted agent proposes memories, the step
records MemoryWriteProposed, and process_proposals validates, merges, applies the
confirmation policy and stores with the source attached."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.memory.controls import confirm_memory, get_memory, list_memories, pending_memories
from core.memory.pipeline import process_proposals
from core.memory.retrieval import search
from core.memory.tables import MEMORIES, PROPOSALS
from core.runs.log import RunWriter
from core.runs.service import RunStore
from tests.core.helpers import drive, gate_with


def propose(content: str, memory_type: str = "fact", **extra: Any) -> dict[str, Any]:
    return {"type": "propose_memory", "memory_type": memory_type, "content": content, **extra}


def run_and_process(engine, goal: str, *proposals: dict[str, Any], user: str = "alice"):
    """One run whose scripted agent makes the proposals, then answers; returns outcomes."""
    store = RunStore(engine)
    script = [*proposals, {"type": "respond", "message": "Noted."}]
    run = store.create_run("t1", user, goal, meta={"script": script})
    drive(engine, gate_with())
    assert store.get_run("t1", user, run["run_id"])["status"] == "completed"
    return run, process_proposals(engine)


def memories_of(engine, user: str = "alice") -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(MEMORIES)
            .where(MEMORIES.c.user_id == user)
            .order_by(MEMORIES.c.created_at, MEMORIES.c.memory_id)
        ).mappings()
        return [dict(r) for r in rows]


def test_explicit_request_is_stored_with_its_source(engine):
    run, outcomes = run_and_process(
        engine,
        "Remember that I prefer metric units.",
        propose("Prefers metric units (Celsius, kilometres).", "preference", confidence=0.9),
    )
    assert [o["outcome"] for o in outcomes] == ["stored"]
    memory = get_memory(engine, "t1", "alice", outcomes[0]["memory_id"])
    told = [
        e
        for e in RunStore(engine).events("t1", "alice", run["run_id"])
        if e["type"] == "MemoryStored"
    ]
    assert [e["data"]["memory_id"] for e in told] == [memory["memory_id"]]
    assert memory["status"] == "active" and memory["scope"] == "user"
    assert memory["subject"] == "user:alice"
    assert memory["source_run_id"] == run["run_id"]
    assert memory["source_message"] == f"goal:{run['run_id']}"
    assert memory["expires_at"] is None
    assert [m["memory_id"] for m in search(engine, "t1", "alice", "which units?")] == [
        memory["memory_id"]
    ]
    # Processing again does nothing: each proposal is handled once.
    assert process_proposals(engine) == []


def test_behaviour_change_waits_for_the_users_yes(engine):
    _, outcomes = run_and_process(
        engine,
        "Short answers are better for me.",
        propose("Prefers short answers.", "preference"),
        propose("Prefers to be called Ali.", "preference"),
    )
    assert [o["outcome"] for o in outcomes] == ["pending", "pending"]
    short, name = (o["memory_id"] for o in outcomes)
    asked = [
        e["data"]
        for e in RunStore(engine).events("t1", "alice", outcomes[0]["run_id"])
        if e["type"] == "MemoryConfirmationRequested"
    ]
    assert [a["memory_id"] for a in asked] == [short, name]
    assert asked[0]["question"] == "Should I remember this for next time: Prefers short answers?"
    assert search(engine, "t1", "alice", "how long should answers be") == []
    assert {m["memory_id"] for m in pending_memories(engine, "t1", "alice")} == {short, name}

    confirm_memory(engine, "t1", "alice", short, accept=True)
    confirm_memory(engine, "t1", "alice", name, accept=False)

    assert [
        m["memory_id"] for m in search(engine, "t1", "alice", "how long should answers be")
    ] == [short]
    assert [m["memory_id"] for m in memories_of(engine)] == [short]


def test_agent_can_ask_for_confirmation_of_any_type(engine):
    _, outcomes = run_and_process(
        engine,
        "My sister is Maria.",
        propose("Alice's sister is Maria.", "relationship", requires_user_confirmation=True),
    )
    assert outcomes[0]["outcome"] == "pending"


def test_duplicates_reinforce_and_similar_content_updates(engine):
    _, first = run_and_process(
        engine, "I drink tea every morning.", propose("Drinks tea every morning.", confidence=0.6)
    )
    _, again = run_and_process(
        engine,
        "As I said, tea every morning.",
        propose("Drinks tea every morning.", confidence=0.6),
    )
    assert again[0]["outcome"] == "duplicate"
    assert again[0]["memory_id"] == first[0]["memory_id"]
    memory = get_memory(engine, "t1", "alice", first[0]["memory_id"])
    assert memory["confidence"] > 0.8
    assert len(memory["sources"]) == 2

    _, changed = run_and_process(
        engine,
        "These days I drink coffee in the morning.",
        propose("Drinks coffee every morning.", confidence=0.7),
    )
    assert changed[0]["outcome"] == "merged"
    assert changed[0]["memory_id"] == first[0]["memory_id"]
    assert [m["content"] for m in memories_of(engine)] == ["Drinks coffee every morning."]

    # A different subject is a different memory even with similar words.
    _, other = run_and_process(
        engine,
        "My colleague Bob drinks coffee every morning.",
        propose("Drinks coffee every morning.", subject="person:bob"),
    )
    assert other[0]["outcome"] == "stored"
    assert len(memories_of(engine)) == 2


def test_updating_a_preference_keeps_the_old_one_until_confirmed(engine):
    _, first = run_and_process(
        engine,
        "Remember: answer me in English.",
        propose("Prefers answers in English.", "preference"),
    )
    _, second = run_and_process(
        engine,
        "Actually I'd like German.",
        propose("Prefers answers in German.", "preference"),
    )
    assert second[0]["outcome"] == "pending"
    assert second[0]["supersedes"] == first[0]["memory_id"]
    assert [m["content"] for m in search(engine, "t1", "alice", "answer language")] == [
        "Prefers answers in English."
    ]
    confirm_memory(engine, "t1", "alice", second[0]["memory_id"])
    assert [m["content"] for m in memories_of(engine)] == ["Prefers answers in German."]


def test_unsafe_or_unsourced_proposals_are_refused(engine):
    _, outcomes = run_and_process(
        engine,
        "My bank login password is hunter2, and card 4111 1111 1111 1111.",
        propose("Bank password is hunter2"),
        propose("Card number 4111 1111 1111 1111"),
        propose("Might like jazz", confidence=0.1),
    )
    assert [o["outcome"] for o in outcomes] == ["rejected"] * 3
    assert "credential" in outcomes[0]["reason"]
    assert "below" in outcomes[2]["reason"]

    store = RunStore(engine)
    run = store.create_run("t1", "alice", "hello")
    with engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])
        w.emit("MemoryWriteProposed", propose("Likes jazz."))
        w.emit(
            "MemoryWriteProposed",
            {
                **propose("Likes jazz."),
                "memory_type": "gossip",
                "source": {"run_id": run["run_id"]},
            },
        )
        w.flush()
    outcomes = process_proposals(engine)
    assert [o["outcome"] for o in outcomes] == ["rejected", "rejected"]
    assert "source" in outcomes[0]["reason"]
    assert "memory_type" in outcomes[1]["reason"]
    assert memories_of(engine) == []
    with engine.connect() as conn:
        statuses = conn.execute(select(PROPOSALS.c.status, PROPOSALS.c.outcome)).all()
    assert {tuple(s) for s in statuses} == {("done", "rejected")}


def test_shared_scopes_need_confirmation_and_reach_the_team(engine):
    from tests.memory.helpers import add_user

    add_user(engine, "t1", "alice", ["team:ops"])
    add_user(engine, "t1", "bob", ["team:ops"])
    store = RunStore(engine)
    run = store.create_run("t1", "alice", "Tell the team: deploys happen on Fridays.")
    with engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])
        w.emit(
            "MemoryWriteProposed",
            {
                **propose("The ops team deploys on Fridays.", "procedure"),
                "scope": "team:ops",
                "subject": "team:ops",
                "source": {"run_id": run["run_id"], "step": 1},
            },
        )
        w.flush()
    [outcome] = process_proposals(engine)
    assert outcome["outcome"] == "pending"
    assert search(engine, "t1", "bob", "when do we deploy") == []
    confirm_memory(engine, "t1", "alice", outcome["memory_id"])
    assert [m["memory_id"] for m in search(engine, "t1", "bob", "when do we deploy")] == [
        outcome["memory_id"]
    ]
    shared = list_memories(engine, "t1", "bob")
    assert [(m["memory_id"], m["editable"]) for m in shared] == [(outcome["memory_id"], False)]
