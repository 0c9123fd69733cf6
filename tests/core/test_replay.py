"""`baton replay`: a recorded run's decisions re-made from its own events, side by side, with
nothing executed and nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from core.agent.scripted import ScriptedAgent
from core.cli.main import app as baton
from core.config import Settings
from core.runs.service import RunStore
from core.runtime import Runtime, set_runtime
from core.tools.builtin.notes_tools import note_specs
from models.contract import Agent, ContextPack, RespondDecision
from tests.core.helpers import count, drive, gate_with

SCRIPT: list[dict[str, Any]] = [
    {"type": "tool_call", "tool": "notes_save", "arguments": {"body": "first"}},
    {"type": "tool_call", "tool": "notes_save", "arguments": {"body": "second"}},
    {"type": "respond", "message": "two notes kept"},
]


@pytest.fixture
def runtime(engine: Engine, database_url: str, tmp_path: Any) -> Iterator[Runtime]:
    """The CLI's process runtime on the test database, with the scripted agent as current."""
    settings = Settings(
        database_url=database_url, data_dir=tmp_path / "data", agent="scripted", api_key=None
    )

    def agent() -> Agent:
        return ScriptedAgent()

    rt = Runtime(settings, engine, lambda: gate_with(*note_specs()), agent)
    set_runtime(rt)
    try:
        yield rt
    finally:
        set_runtime(None)


def replay(*args: str) -> Result:
    return CliRunner().invoke(baton, ["replay", *args], terminal_width=200)


def test_replay_reproduces_every_decision_of_a_scripted_run(engine, runtime):
    store = RunStore(engine)
    run_id = store.create_run("acme", "alice", "keep two notes", meta={"script": SCRIPT})["run_id"]
    drive(engine, gate_with(*note_specs()))
    assert store.get_run("acme", "alice", run_id)["status"] == "completed"
    events_before = count(engine, "select count(*) from run_events where run_id = :r", r=run_id)

    done = replay(run_id, "--tenant", "acme", "--user", "alice", "--json")
    assert done.exit_code == 0, done.output
    steps = json.loads(done.stdout)
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert [s["recorded"]["type"] for s in steps] == ["tool_call", "tool_call", "respond"]
    assert [s["recorded"].get("arguments") for s in steps[:2]] == [
        {"body": "first"},
        {"body": "second"},
    ]
    assert all(s["same"] for s in steps), steps

    table = replay(run_id, "--tenant", "acme", "--user", "alice")
    assert table.exit_code == 0, table.output
    assert "3/3 decisions reproduced" in table.stdout
    assert 'notes_save {"body": "second"}' in table.stdout

    # Nothing executed, nothing written.
    assert count(engine, "select count(*) from run_events where run_id = :r", r=run_id) == (
        events_before
    )
    assert count(engine, "select count(*) from notes where user_id = 'alice'") == 2


def test_a_changed_decision_is_shown_and_still_exits_zero(engine, runtime):
    store = RunStore(engine)
    run_id = store.create_run("acme", "alice", "say hello")["run_id"]

    def last_weeks_agent(_pack: ContextPack) -> RespondDecision:
        return RespondDecision(message="hello from last week")

    drive(engine, gate_with(), ScriptedAgent(last_weeks_agent))
    done = replay(run_id, "--tenant", "acme", "--user", "alice", "--json")
    assert done.exit_code == 0, done.output
    [step] = json.loads(done.stdout)
    assert step["recorded"]["message"] == "hello from last week"
    assert step["replayed"]["message"] == "You said: say hello"
    assert step["same"] is False

    table = replay(run_id, "--tenant", "acme", "--user", "alice")
    assert table.exit_code == 0
    assert "0/1 decisions reproduced" in table.stdout


def test_an_unknown_or_foreign_run_is_a_clear_error(engine, runtime):
    run_id = RunStore(engine).create_run("acme", "alice", "say hello")["run_id"]
    drive(engine, gate_with())

    unknown = replay("run_nope", "--tenant", "acme", "--user", "alice")
    assert unknown.exit_code == 1
    assert "no run 'run_nope'" in unknown.output

    foreign = replay(run_id, "--tenant", "acme", "--user", "mallory")
    assert foreign.exit_code == 1
    assert f"no run '{run_id}'" in foreign.output

    nobody = replay(run_id)
    assert nobody.exit_code == 1
    assert "--tenant and --user" in nobody.output

    model = replay(run_id, "--tenant", "acme", "--user", "alice", "--model", "nope")
    assert model.exit_code == 1
    assert "no configured model 'nope'" in model.output
