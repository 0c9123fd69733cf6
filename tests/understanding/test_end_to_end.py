"""The default stack's command stage end to end: through the HTTP API with the real step code,
and typed through `baton run` against a real `baton serve` whose configured model is a local
OpenAI-compatible server that must never be asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from core.agent.factory import with_command_stage
from core.api.app import create_app
from core.auth.keys import create_key
from core.runtime import Runtime, set_runtime
from core.tools.builtin.calendar_tools import EVENTS, CalendarTools
from tests.core.helpers import drive
from tests.understanding.world import ModelMustNotBeCalled, SeededWeek, gate, seed_week, settings

BATON = str(Path(sys.executable).parent / "baton")


def _seed(engine: Engine, tmp_path: Path, user: str = "alice") -> SeededWeek:
    return seed_week(engine, CalendarTools(settings(tmp_path)), user)


def _events(client: TestClient, run_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    as_json = {**headers, "Accept": "application/json"}
    return list(client.get(f"/runs/{run_id}/events", headers=as_json).json())


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == kind]


def test_calendar_question_and_spoken_cancel_through_the_api(engine, tmp_path):
    s = settings(tmp_path)
    week = _seed(engine, tmp_path)
    model = ModelMustNotBeCalled()
    tools = gate(s)

    def agent() -> Any:
        return with_command_stage(model, s, engine)

    set_runtime(Runtime(s, engine, lambda: tools, agent))
    try:
        with TestClient(create_app(s)) as client:
            h = {"Authorization": f"Bearer {create_key(engine, 'acme', 'alice')}"}
            day, review_day = f"{week.meetings_day:%A}", f"{week.review_day:%A}"
            asked = client.post("/runs", json={"goal": f"What do I have on {day}?"}, headers=h)
            assert asked.status_code in (200, 201), asked.text
            drive(engine, tools, agent())
            run = client.get(f"/runs/{asked.json()['run_id']}", headers=h).json()
            assert run["status"] == "completed", run
            assert run["result"] == week.meetings_answer

            cancel = client.post(
                "/runs", json={"goal": f"Cancel the 4 pm meeting on {review_day}"}, headers=h
            ).json()
            drive(engine, tools, agent())
            waiting = client.get(f"/runs/{cancel['run_id']}", headers=h).json()
            assert waiting["status"] == "waiting_for_human", waiting
            approval = waiting["pending_approval"]
            assert approval["question"].startswith(
                f"Should I cancel 'Quarterly review' on {review_day}"
            )
            assert approval["question"].endswith(" at 4 PM?")
            assert approval["arguments"]["event_id"] == week.ids["Quarterly review"]
            said = client.post(
                f"/runs/{cancel['run_id']}/approve",
                json={"approval_id": approval["approval_id"], "decision": "approve"},
                headers=h,
            )
            assert said.status_code == 200, said.text
            drive(engine, tools, agent())
            done = client.get(f"/runs/{cancel['run_id']}", headers=h).json()
            assert done["status"] == "completed", done
            assert done["result"].startswith(f"Done. I cancelled Quarterly review on {review_day}")
            events = _events(client, cancel["run_id"], h)
            assert len(_of(events, "ToolCallSucceeded")) == 1
            assert _of(events, "DecisionRecorded")[0]["understanding"]["stage"] == "parser"
    finally:
        set_runtime(None)
    with engine.connect() as conn:
        status = conn.execute(
            select(EVENTS.c.status).where(EVENTS.c.event_id == week.ids["Quarterly review"])
        ).scalar_one()
    assert status == "cancelled"
    assert model.asked == []


@pytest.mark.parametrize(
    "goal", ["", "asdkjh qwpoeiru zxcmnb", ("blah " * 1600)[:8000], "tell me a joke"]
)
def test_bad_input_gets_an_answer_and_never_a_tool_call(engine, tmp_path, goal):
    s = settings(tmp_path)
    tools = gate(s)
    set_runtime(
        Runtime(
            s, engine, lambda: tools, lambda: with_command_stage(ModelMustNotBeCalled(), s, engine)
        )
    )
    try:
        with TestClient(create_app(s)) as client:
            h = {"Authorization": f"Bearer {create_key(engine, 'acme', 'alice')}"}
            created = client.post("/runs", json={"goal": goal}, headers=h)
            if not goal:
                assert created.status_code == 422 or created.status_code == 400, created.text
                return
            drive(engine, tools, with_command_stage(ModelMustNotBeCalled(), s, engine))
            run = client.get(f"/runs/{created.json()['run_id']}", headers=h).json()
            assert run["status"] == "completed", run
            assert run["result"].startswith(("Sorry, I didn't catch that", "I can't do that yet"))
            assert _of(_events(client, run["run_id"], h), "ToolCallProposed") == []
    finally:
        set_runtime(None)


class _ModelServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that records every request and refuses it."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.seen.append(self.rfile.read(length).decode())
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"error": {"message": "not expected"}}).encode())

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def model_server() -> Iterator[str]:
    _ModelServer.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_typed_commands_through_baton_run_get_the_same_decisions(
    tmp_path, database_url, model_server
):
    from core.store.db import make_engine

    engine = make_engine(database_url)
    week = _seed(engine, tmp_path)
    key = create_key(engine, "acme", "alice")
    engine.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_DATABASE_URL": database_url,
        "BATON_AGENT": "gateway",
        "BATON_MODEL": "openai/never-called",
        "BATON_MODEL_API_BASE": model_server,
        "BATON_MODEL_API_KEY": "test",
        "BATON_PLUGINS": "none",
        "BATON_PORT": str(port),
        "BATON_URL": f"http://127.0.0.1:{port}",
        "BATON_WORKER_POLL_SECONDS": "0.05",
        "BATON_API_KEY": key,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    proc = subprocess.Popen(
        [BATON, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(
                    f"baton serve did not start: {proc.communicate()[1][-3000:]!r}"
                )
            time.sleep(0.2)

        def baton(*args: str) -> dict[str, Any]:
            done = subprocess.run(
                [BATON, *args, "--json"], env=env, capture_output=True, text=True, timeout=120
            )
            return dict(json.loads(done.stdout))

        listed = baton("run", f"what do I have on {week.meetings_day:%A}".lower())
        assert listed["status"] == "completed", listed
        assert listed["result"] == week.meetings_answer
        cancel = baton("run", f"cancel the 4 pm meeting on {week.review_day:%A}".lower())
        assert cancel["status"] == "waiting_for_human", cancel
        assert cancel["pending_approval"]["arguments"]["event_id"] == week.ids["Quarterly review"]
        assert cancel["pending_approval"]["question"].startswith(
            f"Should I cancel 'Quarterly review' on {week.review_day:%A}"
        )
        noise = baton("run", "asdkjh qwpoeiru zxcmnb")
        assert noise["result"].startswith("Sorry, I didn't catch that")
        assert _ModelServer.seen == []
    finally:
        proc.terminate()
        proc.wait(20)
