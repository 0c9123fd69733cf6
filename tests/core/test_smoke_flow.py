from core.runs.service import RunStore
from tests.core.helpers import bump_spec, drive, ensure_side_effects, gate_with, side_effects


def test_scripted_run_with_tool_calls_completes(engine):
    ensure_side_effects(engine)
    store = RunStore(engine)
    script = [
        {"type": "tool_call", "tool": "counter.bump", "arguments": {"n": i}} for i in range(3)
    ]
    script.append({"type": "respond", "message": "done"})
    run = store.create_run("t1", "u1", "bump three times", meta={"script": script})
    drive(engine, gate_with(bump_spec()))
    final = store.get_run("t1", "u1", run["run_id"])
    assert final["status"] == "completed", final
    assert final["result"] == "done"
    assert side_effects(engine, run["run_id"]) == [0, 1, 2]
    rebuilt = store.rebuilt_view("t1", "u1", run["run_id"])
    for k, v in rebuilt.items():
        assert final[k] == v, k
