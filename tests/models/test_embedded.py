"""The embedded offline default: a real llama.cpp server on SmolLM2-135M, reached via litellm."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.agent.factory import build_agent
from core.config import Settings
from models.agent import GatewayAgent
from models.config import EmbeddedLLMConfig, GatewayConfig
from models.contract import ContextPack, Message, ToolSchema
from models.embedded_server import EmbeddedLLM, EmbeddedServerError
from models.gateway import Gateway

pytestmark = pytest.mark.slow

CALENDAR = ToolSchema(
    name="calendar.create_event",
    description="Add an event (meeting, appointment) to the user's calendar.",
    input_schema={
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "what the event is"},
            "start": {"type": "string", "description": "start, ISO 8601 date and time"},
            "attendees": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title", "start"],
    },
)


async def test_with_no_model_configured_the_agent_decides_on_the_embedded_model(
    embedded_llm: EmbeddedLLM, tmp_path: Path
) -> None:
    agent = build_agent(Settings(data_dir=tmp_path, agent="gateway"))
    assert isinstance(agent, GatewayAgent)
    [spec] = agent.gateway.config.models
    assert spec.api_base == embedded_llm.api_base and spec.local

    pack = ContextPack(
        tenant_id="acme",
        user_id="ann",
        run_id="run_1",
        step=1,
        system="You are Baton, a voice-first assistant. Today is Saturday 2026-11-21.",
        goal="book a meeting with Alice tomorrow at ten",
        tools=[CALENDAR],
    )
    result = await agent.decide(pack)

    assert result.decision.type == "tool_call"
    assert result.decision.tool == "calendar.create_event"
    assert {"title", "start"} <= set(result.decision.arguments)
    assert result.calls[-1].status == "ok"
    assert result.calls[-1].model == "openai/smollm2-135m"
    assert result.calls[-1].cost_usd == 0.0
    assert result.calls[-1].output_tokens > 0


async def test_the_embedded_server_streams_through_litellm(embedded_llm: EmbeddedLLM) -> None:
    gateway = Gateway(GatewayConfig(models=[embedded_llm.spec()]))
    records: list = []
    text = ""
    async for piece in gateway.stream_text(
        task_type="voice_summary",
        messages_for=lambda _s: [{"role": "user", "content": "Say hello in three words."}],
        records=records,
        max_tokens=12,
    ):
        text += piece
    assert text.strip()
    assert records[0].status == "ok" and records[0].output_tokens > 0


def test_the_server_stops_cleanly_and_dies_with_its_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from models.embedded_server import EmbeddedLLM\n"
        "llm = EmbeddedLLM(); llm.start()\n"
        "print(llm._proc.pid, llm.api_base, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert parent.stdout is not None
    child_pid, api_base = parent.stdout.readline().split()
    assert httpx.get(api_base.removesuffix("/v1") + "/health").status_code == 200
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(int(child_pid), 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(int(child_pid), signal.SIGKILL)
        raise AssertionError("the embedded server outlived its parent")


def test_a_broken_gguf_is_a_clear_start_up_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 4096)
    llm = EmbeddedLLM(EmbeddedLLMConfig(model_path=bad, startup_timeout_s=30))

    with pytest.raises(EmbeddedServerError) as err:
        llm.start()

    assert "could not load" in str(err.value) and "broken.gguf" in str(err.value)
    assert not llm.running


async def test_a_run_goes_on_after_its_own_note_with_structured_output(
    embedded_llm: EmbeddedLLM,
) -> None:
    gateway = Gateway(GatewayConfig(models=[embedded_llm.spec()]))
    agent = GatewayAgent(gateway)
    pack = ContextPack(
        tenant_id="acme",
        user_id="ann",
        run_id="run_1",
        step=2,
        system="You are Baton, a voice-first assistant.",
        goal="Which airport do I usually fly from?",
        messages=[
            Message(role="user", content="Which airport do I usually fly from?"),
            Message(role="assistant", content="(noted for memory: home airport is Schiphol)"),
        ],
        memories=[{"content": "Ann's home airport is Amsterdam Schiphol."}],
    )
    result = await agent.decide(pack)

    assert result.calls[-1].status == "ok", result.calls
    assert result.decision.type in ("respond", "ask_human", "propose_memory", "tool_call")
