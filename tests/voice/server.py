"""A real Baton server for voice tests and the voice benchmark.

The app (voice plugin only) runs under uvicorn on a free loopback port with in-process
workers, like `baton serve`; the agent is scripted (deterministic) unless one is given, and
the tools are ``email.send`` and ``calendar_book_meeting``, risky enough to need a spoken
approval.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from core.agent.scripted import ScriptedAgent
from core.config import Settings
from core.runs.service import RunStore
from core.runtime import Runtime, set_runtime
from core.tools.gate import ToolGate
from core.tools.registry import ToolRegistry
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolSpec
from core.worker.runner import Worker
from models.contract import Agent, ContextPack
from voice.bridge import FIXED_PHRASES
from voice.config import VoiceSettings, set_voice_settings
from voice.services import VoiceServices

STT_RATE = 16000
# A rough transcript names a line when it is this similar and this much nearer to it than to
# any other line (seen on a loaded machine: 0.73 to the right line, 0.47 to the next).
ROUGH_MATCH = 0.6
ROUGH_MARGIN = 0.15
CAPITAL_ANSWER = "The capital of France is Paris."
SENT_ANSWER = "Done. The email to Alice is on its way."
DENIED_ANSWER = "Okay, I won't send it."
# A one-word reply ("Booked.") is heard as "book" or "buck" as often as not on phone audio.
BOOKED_ANSWER = "The meeting is booked."
NOT_BOOKED_ANSWER = "Okay, I won't book it."
BOT_LINES = (
    CAPITAL_ANSWER,
    SENT_ANSWER,
    DENIED_ANSWER,
    BOOKED_ANSWER,
    NOT_BOOKED_ANSWER,
    *FIXED_PHRASES,
    "Should I send email to Alice? Please say yes or no.",
    "Sorry, I need a yes or a no. Should I send email to Alice? "
    "Say yes or no, or press 1 for yes and 2 for no.",
)
"""What the bot says in these tests, to tell a rough transcript's line from any other."""
MEETING = {"title": "Budget review", "start": "2026-12-01T10:00:00", "attendees": ["Bob"]}
STORY_ANSWER = (
    "Once upon a time a small robot learned to listen carefully to people. "
    "It answered briefly and always asked before doing anything risky."
)
LONG_ANSWER = " ".join(
    f"Point {n}: the quarterly report shows revenue growth in region {n}, with costs "
    "holding steady and three new customers signed."
    for n in range(1, 7)
)


@dataclass
class EmailOutbox:
    """The side effect under approval: every real execution of ``email.send`` lands here."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def send(self, arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        with self.lock:
            self.sent.append({"arguments": arguments, "key": ctx.idempotency_key})
        return {"queued": True, "to": arguments.get("to")}


def decide(pack: ContextPack) -> dict[str, Any]:
    """The scripted agent: answers France questions, emails Alice (risky), reports at length."""
    last = pack.messages[-1] if pack.messages else None
    if last is not None and last.role == "tool":
        result = json.loads(last.content)
        ok = result.get("status") == "succeeded"
        if "meeting" in pack.goal.lower():
            return {"type": "respond", "message": BOOKED_ANSWER if ok else NOT_BOOKED_ANSWER}
        return {"type": "respond", "message": SENT_ANSWER if ok else DENIED_ANSWER}
    said = (last.content if last is not None and last.role == "user" else pack.goal).lower()
    if "meeting" in said:
        return {"type": "tool_call", "tool": "calendar_book_meeting", "arguments": MEETING}
    if "mail" in said:
        return {
            "type": "tool_call",
            "tool": "email.send",
            "arguments": {"to": "Alice", "subject": "the budget"},
        }
    if "report" in said:
        return {"type": "respond", "message": LONG_ANSWER}
    if "france" in said or "capital" in said:
        return {"type": "respond", "message": CAPITAL_ANSWER}
    if "story" in said:
        return {"type": "respond", "message": STORY_ANSWER}
    return {"type": "respond", "message": f"You said: {said}"}


def split_settings(**values: Any) -> tuple[Settings, VoiceSettings]:
    """Core and voice settings from one set of values, each given to the class that has it."""
    voice = {k: v for k, v in values.items() if k in VoiceSettings.model_fields}
    core = {k: v for k, v in values.items() if k not in voice}
    return Settings(**core), VoiceSettings(**voice)


def server_settings(
    tmp_path: Path, engine: Engine, **overrides: Any
) -> tuple[Settings, VoiceSettings]:
    """Core and voice settings for a voice server on ``engine``'s database."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": engine.url.render_as_string(hide_password=False),
        "plugins": "voice",
        "agent": "scripted",
        "worker_poll_seconds": 0.02,
    }
    values.update(overrides)
    return split_settings(**values)


def create_voice_app(settings: Settings, voice_settings: VoiceSettings, **kwargs: Any) -> Any:
    """The app, its voice plugin set up with ``voice_settings`` (read once, at set-up)."""
    from core.api.app import create_app

    set_voice_settings(voice_settings)
    try:
        return create_app(settings, **kwargs)
    finally:
        set_voice_settings(None)


def services_for(
    models: VoiceServices, settings: Settings, voice_settings: VoiceSettings, engine: Engine
) -> VoiceServices:
    """The loaded models over this store and these settings."""
    return dataclasses.replace(
        models,
        settings=settings,
        voice_settings=voice_settings,
        store=RunStore(engine, settings),
    )


def approval_gate(outbox: EmailOutbox) -> ToolGate:
    """Risky tools: sending email and booking a meeting need a human's approval."""
    spec = ToolSpec(
        name="email.send",
        description="Send an email",
        fn=outbox.send,
        input_schema={
            "type": "object",
            "properties": {"to": {"type": "string"}, "subject": {"type": "string"}},
            "required": ["to"],
        },
        risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
        idempotency=Idempotency.KEYED,
    )
    meeting = ToolSpec(
        name="calendar_book_meeting",
        description="Book a meeting",
        fn=outbox.send,
        input_schema={
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "start": {"type": "string"},
                "attendees": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["title", "start"],
        },
        risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
        idempotency=Idempotency.KEYED,
    )
    return ToolGate(ToolRegistry([spec, meeting]), approval_min_level=3)


def scripted_agent() -> Agent:
    """The deterministic agent of the voice tests."""
    return ScriptedAgent(decide)


@contextlib.contextmanager
def running_worker(
    engine: Engine, gate: ToolGate, agent_factory: Callable[[], Agent] = scripted_agent
) -> Iterator[Worker]:
    """Workers executing runs in this process, as `baton serve` runs them."""
    worker = Worker(engine, agent_factory, gate, concurrency=2, poll_s=0.02)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@dataclass
class VoiceServer:
    """A running server: its URL, settings, store and the tool's outbox."""

    url: str
    settings: Settings
    voice_settings: VoiceSettings
    engine: Engine
    store: RunStore
    outbox: EmailOutbox
    app: Any


@contextlib.asynccontextmanager
async def serve_voice(
    models: VoiceServices,
    engine: Engine,
    tmp_path: Path,
    outbox: EmailOutbox,
    agent_factory: Callable[[], Agent] = scripted_agent,
    gate: ToolGate | None = None,
    **overrides: Any,
) -> AsyncIterator[VoiceServer]:
    """Start the app with uvicorn on 127.0.0.1 (a free port) and workers; stop them after.

    The tools are ``email.send`` behind an approval unless another ``gate`` is given.
    """
    import uvicorn

    settings, voice_settings = server_settings(tmp_path, engine, **overrides)
    tools = gate or approval_gate(outbox)
    set_runtime(Runtime(settings, engine, lambda: tools, agent_factory))
    app = create_voice_app(settings, voice_settings)
    app.state.voice.install(services_for(models, settings, voice_settings, engine))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with running_worker(engine, tools, agent_factory):
            yield VoiceServer(
                f"http://127.0.0.1:{port}",
                settings,
                voice_settings,
                engine,
                RunStore(engine, settings),
                outbox,
                app,
            )
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 15)
        set_runtime(None)


async def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, step: float = 0.05) -> Any:
    """Poll ``predicate`` (a blocking store read, run in a thread) until it is truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(step)


def _words(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _similarity(a: str, b: str) -> float:
    import difflib

    return difflib.SequenceMatcher(None, _words(a), _words(b)).ratio()


def sounds_like(heard: str, expected: str, threshold: float = 0.75) -> bool:
    """Whether Whisper's transcript of bot audio matches the text the bot was given.

    Phone audio (8 kHz µ-law) costs tiny.en a few letters ("francis perris" for "France is
    Paris"), and on a loaded machine sometimes whole words ("then they'd email to our us's on
    its way" for "Done. The email to Alice is on its way."). A transcript close to the text
    passes; a rougher one passes only when the text is clearly the nearest of every line the
    bot says in these tests, so a wrong answer never does.
    """
    similarity = _similarity(heard, expected)
    if similarity >= threshold:
        return True
    others = [_similarity(heard, line) for line in BOT_LINES if _words(line) != _words(expected)]
    return similarity >= ROUGH_MATCH and similarity - max(others, default=0.0) >= ROUGH_MARGIN
