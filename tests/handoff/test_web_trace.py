"""The run page's steps from the run's trace: durations, model and tool calls, approvals."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from core.runs.service import RunStore
from core.runtime import Runtime
from core.tracing import configure_tracing, shutdown_tracing
from handoff.config import get_handoff_settings
from handoff.links import deep_link
from handoff.web.session import signer
from tests.core.helpers import drive
from tests.handoff.conftest import handoff_gate
from tests.handoff.serve_webview import MODEL_CALL, MeteredAgent

SCRIPT = [
    {"type": "tool_call", "tool": "email.send", "arguments": {"to": "bob@example.com"}},
    {"type": "respond", "message": "Sent."},
]


@pytest.fixture
def traced(runtime: Runtime) -> Iterator[Runtime]:
    """Spans of every step go to the local span store, as `baton serve` does by default."""
    configure_tracing(
        runtime.settings.model_copy(update={"tracing": True, "otel_endpoint": None}),
        runtime.engine,
    )
    try:
        yield runtime
    finally:
        shutdown_tracing()


def _approved_run(runtime: Runtime) -> str:
    store = RunStore(runtime.engine, runtime.settings)
    run_id = str(store.create_run("acme", "ann", "mail Bob", meta={"script": SCRIPT})["run_id"])
    gate = handoff_gate(runtime.settings)
    drive(runtime.engine, gate, MeteredAgent())
    approval = store.pending_approval("acme", "ann", run_id)
    assert approval is not None
    store.decide_approval(
        "acme", "ann", run_id, approval["approval_id"], True, channel="web", evidence="test"
    )
    drive(runtime.engine, gate, MeteredAgent())
    assert store.get_run("acme", "ann", run_id)["status"] == "completed"
    return run_id


def _sign_in_to(client, runtime: Runtime, run_id: str) -> None:
    s, hs = runtime.settings, get_handoff_settings()
    owner = {"tenant_id": "acme", "user_id": "ann"}
    link = deep_link(s, hs, signer(s, hs), owner, {"run_id": run_id})
    parts = urlsplit(link)
    assert client.get(f"{parts.path}?{parts.query}", follow_redirects=False).status_code == 303


def test_the_run_page_shows_each_steps_duration_and_its_calls(app_client, traced):
    run_id = _approved_run(traced)
    other = _approved_run(traced)
    _sign_in_to(app_client, traced, run_id)

    view = app_client.get(f"/app/api/runs/{run_id}")
    assert view.status_code == 200, view.text
    trace = view.json()["trace"]
    assert trace["exported_to"] == "local"
    steps = trace["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert all(s["name"] == "run.step" and s["duration_ms"] > 0 for s in steps)
    assert all(s["title"].startswith(f"Step {s['step']} · ") for s in steps)

    asking, executing, answering = steps
    (model,) = asking["model_calls"]
    assert model == {
        "model": "openai/gpt-4o-mini",
        "input_tokens": 812,
        "output_tokens": 23,
        "latency_ms": 41.5,
        "cost_usd": pytest.approx(MODEL_CALL.cost_usd),
        "status": "ok",
    }
    assert asking["understanding"] == {
        "stage": "model",
        "intent": "email.send",
        "confidence": pytest.approx(0.87),
    }
    assert asking["proposals"] == [{"tool": "email.send", "verdict": "approve"}]
    assert asking["approvals_requested"] == 1 and asking["tool_calls"] == []
    (tool,) = executing["tool_calls"]
    assert (tool["tool"], tool["outcome"], tool["approval"]) == (
        "email.send",
        "succeeded",
        "approved",
    )
    assert tool["latency_ms"] >= 0 and executing["model_calls"] == []
    assert answering["tool_calls"] == [] and len(answering["model_calls"]) == 1
    assert trace["cost_usd"] == pytest.approx(2 * MODEL_CALL.cost_usd)
    texts = [line["text"] for line in asking["lines"]]
    assert "Model openai/gpt-4o-mini · 812 → 23 tokens · 41.5 ms · $0.0002" in texts
    assert "Understood by the model: email.send (87% sure)" in texts
    assert "Approval asked" in texts

    # A session sent for one run sees that run's trace only.
    assert app_client.get(f"/app/api/runs/{other}").status_code == 401
    assert app_client.get(f"/runs/{other}/trace").status_code == 401


def test_without_tracing_the_run_page_has_no_steps(app_client, runtime):
    configure_tracing(runtime.settings.model_copy(update={"tracing": False}), runtime.engine)
    run_id = _approved_run(runtime)
    _sign_in_to(app_client, runtime, run_id)
    view = app_client.get(f"/app/api/runs/{run_id}").json()
    assert view["trace"] == {"exported_to": "off", "cost_usd": 0, "steps": []}
    assert [t["type"] for t in view["timeline"]][-1] == "RunCompleted"
