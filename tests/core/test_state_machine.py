"""The transition table, the projection and tool-call idempotency, directly."""

from __future__ import annotations

import pytest

from core.agent.invocation_ledger import IdempotencyConflict, find_invocation, record_start
from core.runs.log import RunWriter
from core.runs.service import RunStore
from core.runs.states import TERMINAL, TRANSITIONS, IllegalTransition, RunStatus, check_transition
from tests.core.helpers import count


def test_every_state_has_a_row_and_terminal_states_stay_put():
    assert set(TRANSITIONS) == set(RunStatus)
    for state in (RunStatus.COMPLETED, RunStatus.FAILED):
        for target in RunStatus:
            with pytest.raises(IllegalTransition):
                check_transition(state, target)
    assert TRANSITIONS[RunStatus.CANCELLED] == {RunStatus.QUEUED}  # resume only
    assert RunStatus.COMPLETED in TERMINAL


def test_an_illegal_transition_writes_nothing(engine):
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "hi")
    before = count(engine, "select count(*) from run_events")
    with pytest.raises(IllegalTransition), engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])
        w.emit("RunCompleted", {"result": "skipped the work"})  # queued -> completed: illegal
        w.flush()
    assert count(engine, "select count(*) from run_events") == before
    assert store.get_run("acme", "alice", run["run_id"])["status"] == "queued"


def test_same_key_same_arguments_reuses_the_record_other_arguments_conflict(engine):
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "hi")
    with engine.begin() as conn:
        w = RunWriter.open(conn, run["run_id"])

        def start(arguments: dict) -> dict:
            return record_start(conn, w.view, 1, "counter.bump", arguments, None, "order-7", w.now)

        first = start({"n": 1})
        assert start({"n": 1})["tool_call_id"] == first["tool_call_id"]
        with pytest.raises(IdempotencyConflict):
            start({"n": 2})
        stored = find_invocation(conn, "counter.bump", "order-7")
        assert stored is not None and stored["arguments_json"] == {"n": 1}
