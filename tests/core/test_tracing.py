"""Traces of runs: one trace per run, kept locally or sent to an OTLP collector, readable by
the run's owner only."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from sqlalchemy import Engine, select

from core.agent.scripted import ScriptedAgent
from core.config import Settings
from core.memory.pipeline import process_proposals
from core.runs.service import RunStore
from core.tools.gate import ToolGate
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolSpec
from core.tracing import (
    configure_tracing,
    flush_tracing,
    hex_trace_id,
    root_span_context,
    shutdown_tracing,
    trace_id_of,
)
from core.tracing.calls import past_call_span, past_call_span_scope, record_call
from core.tracing.decisions import record_decision
from core.tracing.ids import root_span_id_of
from core.tracing.recorder import CallOwner
from core.tracing.spans import run_span, span_event
from core.tracing.tables import SPANS
from core.understanding.agent import CommandAgent
from models.contract import ModelCallRecord
from tests.core.api_harness import api, auth
from tests.core.helpers import drive, gate_with

# An argument value that must never reach a span.
SECRET = "meet Zanzibar-7741 at the pier"
SCRIPT = [
    {"type": "tool_call", "tool": "notes.send", "arguments": {"text": SECRET}},
    {"type": "respond", "message": "sent"},
]


async def _send(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return {"sent": len(args["text"])}


def send_spec() -> ToolSpec:
    """A tool with an external side effect: every call waits for the person's approval."""
    return ToolSpec(
        name="notes.send",
        description="Send a note",
        fn=_send,
        input_schema={
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
        risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
        idempotency=Idempotency.KEYED,
        rate_per_minute=60_000,
        rate_burst=10_000,
        user_rate_per_minute=60_000,
        user_rate_burst=10_000,
    )


def tracing_settings(**overrides: Any) -> Settings:
    return Settings(plugins="none", agent="scripted", **{"otel_endpoint": None, **overrides})


@pytest.fixture
def gate() -> ToolGate:
    return gate_with(send_spec())


@pytest.fixture
def local_tracing(engine: Engine) -> Iterator[None]:
    configure_tracing(tracing_settings(), engine)
    try:
        yield
    finally:
        shutdown_tracing()


def approved_run(c: TestClient, engine: Engine, gate: ToolGate, h: dict[str, str]) -> str:
    """A run that proposes the tool, waits for approval, executes it once approved and ends."""
    run = c.post("/runs", json={"goal": "send the note", "meta": {"script": SCRIPT}}, headers=h)
    run_id = str(run.json()["run_id"])
    drive(engine, gate)
    waiting = c.get(f"/runs/{run_id}", headers=h).json()
    assert waiting["status"] == "waiting_for_human", waiting
    approval_id = waiting["pending_approval"]["approval_id"]
    decided = c.post(
        f"/runs/{run_id}/approve",
        json={"approval_id": approval_id, "decision": "approve"},
        headers=h,
    )
    assert decided.status_code == 200, decided.text
    drive(engine, gate)
    assert c.get(f"/runs/{run_id}", headers=h).json()["status"] == "completed"
    return run_id


def answered_run(c: TestClient, engine: Engine, gate: ToolGate, h: dict[str, str]) -> str:
    """A run answered in one step, without tools."""
    run_id = str(c.post("/runs", json={"goal": "say hi"}, headers=h).json()["run_id"])
    drive(engine, gate)
    return run_id


def stored(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(SPANS).where(SPANS.c.run_id == run_id).order_by(SPANS.c.id)
            ).mappings()
        ]


def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for n in nodes:
        yield n
        yield from walk(n["children"])


def test_a_run_leaves_one_trace_in_the_local_store(engine, gate, local_tracing):
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        run_id = approved_run(c, engine, gate, h)
        assert flush_tracing()
        rows = stored(engine, run_id)
        assert {r["trace_id"] for r in rows} == {hex_trace_id(run_id)}
        assert {(r["tenant_id"], r["user_id"]) for r in rows} == {("acme", "alice")}
        names = [r["name"] for r in rows]
        for expected in ("run.step", "context.assemble", "agent.decide", "checkpoint.write"):
            assert expected in names, names
        assert SECRET not in json.dumps([r["attributes"] for r in rows])
        assert "Zanzibar" not in json.dumps([r["attributes"] for r in rows])

        (tool,) = [r for r in rows if r["name"] == "tool.call"]
        assert tool["attributes"]["baton.tool.name"] == "notes.send"
        assert tool["attributes"]["baton.tool.risk_level"] == int(RiskLevel.EXTERNAL_SIDE_EFFECT)
        assert tool["attributes"]["baton.tool.approval"] == "approved"
        assert tool["attributes"]["baton.tool.outcome"] == "succeeded"
        assert tool["attributes"]["baton.tool.idempotency_key"].startswith(f"{run_id}:")
        context = next(r for r in rows if r["name"] == "context.assemble")
        assert context["attributes"]["baton.context.tokens"] > 0
        assert context["attributes"]["baton.context.memories"] == 0

        got = c.get(f"/runs/{run_id}/trace", headers=h)
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["trace_id"] == hex_trace_id(run_id) and body["exported_to"] == "local"
        steps = body["spans"]
        # The steps, waiting for approval and after it, are the top of the tree, in order.
        assert steps and {s["name"] for s in steps} == {"run.step"}
        assert [s["start_ns"] for s in steps] == sorted(s["start_ns"] for s in steps)
        executing = next(s for s in steps if "tool.call" in {k["name"] for k in s["children"]})
        kids = executing["children"]
        assert [k["start_ns"] for k in kids] == sorted(k["start_ns"] for k in kids)
        assert {k["name"] for k in kids} >= {"tool.call", "checkpoint.write"}
        assert len(list(walk(steps))) == len(rows)
        asking = steps[0]
        assert [e["name"] for e in asking["events"]] == ["tool.proposed", "approval.requested"]
        assert asking["events"][0]["attributes"]["baton.tool.verdict"] == "approve"


def test_understanding_and_model_calls_are_spans(engine, gate, local_tracing):
    settings = tracing_settings()
    agent = CommandAgent(ScriptedAgent(), engine, settings)
    store = RunStore(engine, settings)
    helped = store.create_run("acme", "alice", "what can you do")["run_id"]
    chatted = store.create_run("acme", "alice", "the sky is lovely today")["run_id"]
    drive(engine, gate, agent)
    call = ModelCallRecord(
        model="openai/gpt-4o-mini",
        input_tokens=812,
        output_tokens=23,
        latency_ms=41.5,
        cost_usd=0.0002,
        attempts=2,
    )
    with run_span("agent.decide", chatted):
        now = time.time_ns()
        record_decision(chatted, "the system prompt", now - 50_000_000, now, [call], None)
    assert flush_tracing()

    (parsed,) = [r for r in stored(engine, helped) if r["name"] == "understanding"]
    assert parsed["attributes"]["baton.understanding.stage"] == "parser"
    assert parsed["attributes"]["baton.understanding.intent"] == "help"
    assert parsed["attributes"]["baton.understanding.confidence"] > 0.5
    chat = stored(engine, chatted)
    (modelled,) = [r for r in chat if r["name"] == "understanding"]
    assert modelled["attributes"]["baton.understanding.stage"] == "model"
    (model,) = [r for r in chat if r["name"] == "model.call"]
    assert model["attributes"]["gen_ai.request.model"] == "openai/gpt-4o-mini"
    assert model["attributes"]["gen_ai.usage.input_tokens"] == 812
    assert model["attributes"]["gen_ai.usage.output_tokens"] == 23
    assert model["attributes"]["baton.model.attempts"] == 2
    assert model["attributes"]["baton.model.cost_usd"] == pytest.approx(0.0002)
    assert len(model["attributes"]["baton.model.prompt_version"]) == 12
    assert (model["end_ns"] - model["start_ns"]) == 41_500_000


def test_a_memory_write_joins_the_runs_trace(engine, gate, local_tracing):
    fact = "my locker code is Zanzibar-7741"
    script = [
        {"type": "propose_memory", "memory_type": "fact", "content": fact, "confidence": 0.9},
        {"type": "respond", "message": "noted"},
    ]
    store = RunStore(engine)
    run_id = store.create_run("acme", "alice", "remember it", meta={"script": script})["run_id"]
    drive(engine, gate)
    process_proposals(engine, settings=tracing_settings())
    assert flush_tracing()
    rows = stored(engine, run_id)
    assert {r["trace_id"] for r in rows} == {hex_trace_id(run_id)}
    (write,) = [r for r in rows if r["name"] == "memory.write"]
    assert write["attributes"]["baton.memory.outcome"] == "stored"
    assert "Zanzibar" not in json.dumps([[r["attributes"], r["events"]] for r in rows])
    proposing = next(r for r in rows if r["events"])
    assert proposing["events"][0]["name"] == "memory.proposed"


def test_the_trace_id_is_derived_from_the_run_id():
    digest = hashlib.sha256(b"run_01h2example").digest()
    assert trace_id_of("run_01h2example") == int.from_bytes(digest[:16], "big")
    assert hex_trace_id("run_01h2example") == digest[:16].hex()


def test_the_local_store_keeps_only_the_newest_spans(engine, gate):
    configure_tracing(tracing_settings(trace_keep_spans=3), engine)
    try:
        with api(engine, gate) as c:
            run_id = approved_run(c, engine, gate, auth(engine, "acme", "alice"))
            assert flush_tracing()
    finally:
        shutdown_tracing()
    rows = stored(engine, run_id)
    assert len(rows) == 3
    # The last span to end is the step that completed the run: it is among those kept.
    assert rows[-1]["name"] == "run.step"


def test_every_span_ended_on_any_thread_is_stored(engine, local_tracing):
    store = RunStore(engine)
    run_ids = [store.create_run("acme", "alice", f"run {i}")["run_id"] for i in range(3)]
    per_thread = 400
    # Characters that text encodings of a batch (JSON, COPY) must escape.
    awkward = 'tab\there\nnew line "quoted" back\\slash é'

    def record(run_id: str) -> None:
        for i in range(per_thread):
            with run_span("run.step", run_id, {"baton.step": i, "baton.error": awkward}):
                span_event("tool.proposed", {"baton.tool.name": "echo"})

    threads = [threading.Thread(target=record, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert flush_tracing()
    for run_id in run_ids:
        rows = stored(engine, run_id)
        assert sorted(r["attributes"]["baton.step"] for r in rows) == list(range(per_thread))
        assert {r["trace_id"] for r in rows} == {hex_trace_id(run_id)}
        assert all(r["events"][0]["name"] == "tool.proposed" for r in rows)
        assert {r["attributes"]["baton.error"] for r in rows} == {awkward}


def test_tracing_off_records_nothing(engine, gate):
    configure_tracing(tracing_settings(tracing=False), engine)
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        run_id = answered_run(c, engine, gate, h)
        assert stored(engine, run_id) == []
        body = c.get(f"/runs/{run_id}/trace", headers=h).json()
        assert body["spans"] == [] and body["exported_to"] == "off"


def test_a_trace_is_only_its_owners(engine, gate, local_tracing):
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        run_id = answered_run(c, engine, gate, h)
        assert [s["name"] for s in c.get(f"/runs/{run_id}/trace", headers=h).json()["spans"]] == [
            "run.step"
        ]
        for other in (auth(engine, "acme", "mallory"), auth(engine, "globex", "alice")):
            denied = c.get(f"/runs/{run_id}/trace", headers=other)
            assert denied.status_code == 404 and run_id in denied.text
        assert c.get("/runs/run_missing/trace", headers=h).status_code == 404
        assert c.get(f"/runs/{run_id}/trace").status_code == 401


# ----- OTLP/HTTP -----------------------------------------------------------------------------


@dataclass
class Collector:
    """What a local OTLP/HTTP receiver was sent."""

    paths: list[str] = field(default_factory=list)
    spans: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    """An OTLP/HTTP trace receiver on a free loopback port that decodes the protobuf request."""
    got = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
            with got.lock:
                got.paths.append(self.path)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        got.spans.extend(scope.spans)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def test_spans_go_to_the_otlp_collector_with_the_runs_trace_id(engine, gate, collector):
    got, endpoint = collector
    configure_tracing(tracing_settings(otel_endpoint=endpoint), engine)
    try:
        with api(engine, gate) as c:
            h = auth(engine, "acme", "alice")
            run_id = approved_run(c, engine, gate, h)
            assert flush_tracing()
            body = c.get(f"/runs/{run_id}/trace", headers=h).json()
    finally:
        shutdown_tracing()
    assert body["exported_to"] == "otlp" and body["spans"] == []
    assert set(got.paths) == {"/v1/traces"}
    mine = [
        s
        for s in got.spans
        if any(a.key == "baton.run_id" and _value(a.value) == run_id for a in s.attributes)
    ]
    assert {s.trace_id for s in mine} == {trace_id_of(run_id).to_bytes(16, "big")}
    names = {s.name for s in mine}
    assert {"run.step", "agent.decide", "tool.call", "checkpoint.write"} <= names
    tool = next(s for s in mine if s.name == "tool.call")
    attrs = {a.key: _value(a.value) for a in tool.attributes}
    assert attrs["baton.tool.approval"] == "approved" and attrs["baton.tool.outcome"] == "succeeded"
    assert SECRET not in str(got.spans)
    assert stored(engine, run_id) == []


def test_a_calls_spans_go_to_the_collector_in_its_own_trace_linked_to_the_run(
    engine, gate, collector
):
    got, endpoint = collector
    call = CallOwner("call_01h2example", "acme", "alice")
    configure_tracing(tracing_settings(otel_endpoint=endpoint), engine)
    try:
        with api(engine, gate) as c:
            run_id = answered_run(c, engine, gate, auth(engine, "acme", "alice"))
        with past_call_span_scope(
            "voice.turn", call, 1_000, 5_000, {"baton.run_id": run_id}, [root_span_context(run_id)]
        ):
            past_call_span("voice.run", call, 2_000, 4_000)
        record_call("voice.call", call, 500, 6_000)
        assert flush_tracing()
    finally:
        shutdown_tracing()
    mine = {
        s.name: s
        for s in got.spans
        if any(a.key == "baton.call_id" and _value(a.value) == call.call_id for a in s.attributes)
    }
    assert set(mine) == {"voice.call", "voice.turn", "voice.run"}
    call_trace_id = trace_id_of(call.call_id).to_bytes(16, "big")
    assert {s.trace_id for s in mine.values()} == {call_trace_id}
    root, turn, stage = mine["voice.call"], mine["voice.turn"], mine["voice.run"]
    assert root.parent_span_id == b"" and turn.parent_span_id == root.span_id
    assert stage.parent_span_id == turn.span_id
    (link,) = turn.links
    assert link.trace_id == trace_id_of(run_id).to_bytes(16, "big")
    assert link.span_id == root_span_id_of(run_id).to_bytes(8, "big")
    assert stored(engine, run_id) == []
