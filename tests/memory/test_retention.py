"""Expiry and concurrency: expired memories are deleted from every index by the background
step, and two workers processing the same queue store each proposal exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

from core.ids import utcnow
from core.memory import index, pipeline
from core.memory.controls import list_memories
from core.memory.pipeline import process_proposals
from core.runs.log import RunWriter
from core.runs.service import RunStore
from tests.memory.helpers import seed


def test_expired_memories_are_purged_from_every_index(engine, monkeypatch):
    old = seed(
        engine,
        "t1",
        "alice",
        "Had a dentist appointment last month.",
        memory_type="episode",
        expires_at=utcnow() - timedelta(minutes=1),
    )
    live = seed(engine, "t1", "alice", "Goes to the dentist every March.")
    monkeypatch.setattr(pipeline, "_last_purge", -1e9)

    process_proposals(engine)

    with engine.connect() as conn:
        assert not any(index.indexed_ids(conn, old["memory_id"]).values())
        assert all(index.indexed_ids(conn, live["memory_id"]).values())


def test_two_workers_store_each_proposal_once(engine):
    store = RunStore(engine)
    run = store.create_run("t1", "alice", "Remember these things about me.")
    distinct = [
        "Listens to jazz.",
        "Has a cat named Tom.",
        "Lives in Oslo.",
        "Works at Acme Corp.",
        "Speaks Norwegian.",
        "Plays chess on Sundays.",
    ]
    facts = [*distinct, "Listens to jazz.", "Listens to jazz."]
    with engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])
        for fact in facts:
            w.emit(
                "MemoryWriteProposed",
                {
                    "type": "propose_memory",
                    "memory_type": "fact",
                    "content": fact,
                    "confidence": 0.8,
                    "source": {"run_id": run["run_id"], "step": 1},
                },
            )
        w.flush()
    outcomes: list[dict] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        barrier.wait()
        outcomes.extend(process_proposals(engine))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert len(outcomes) == len(facts)
    kinds = [o["outcome"] for o in outcomes]
    assert kinds.count("duplicate") == 2 and kinds.count("stored") == 6, kinds
    contents = sorted(m["content"] for m in list_memories(engine, "t1", "alice"))
    assert contents == sorted(set(facts))
