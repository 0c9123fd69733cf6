"""Voice latency benchmark: phone calls over Twilio's media-stream protocol (and WebRTC).

A real Baton server (voice plugin, in-process workers, SQLite) runs on a loopback port with
the DEFAULT agent (the command layer in front of the embedded model) and the built-in tools
over a seeded world (contacts, tomorrow's meetings, notes); a local Twilio stand-in
(tests/voice/twilio_client.py) calls it over the real protocol and speaks Piper-synthesised
everyday commands as 8 kHz µ-law in real time. ``--agent scripted`` (an echo agent) exists
for debugging the harness only: its figures are not latency figures. Measured:

* per turn, end of the caller's speech -> first bot audio at the client, p50/p95 over
  ``--turns`` turns, with the server's breakdown (turn-end wait, STT, run/LLM, TTS first chunk)
  and how the turn's traced latency compares with the caller's;
* call connect -> first greeting audio;
* barge-in: caller speech onset -> the bot's audio stops arriving (it is held at the caller's
  first sound), and -> Twilio "clear" (the held audio flushed);
* backchannels ("uh-huh", "okay") over the bot: how many interrupted it (a "clear"), and how
  long the bot paused for the others before going on;
* whole requests that go on after a silence of each of ``--pause-gaps``: how many were cut
  in two turns at the pause (the price of ending a whole request's turn early);
* ``--concurrent`` calls at once: per-turn p50/p95 and greeting;
* end-of-turn strategies (silence vs Smart Turn v3): latency and false cut-offs on requests
  with pauses;
* server RSS with the models loaded;
* the peer: a plain pipecat bot on the same models and turn settings (bench/peer_pipecat.py),
  called the same way with the same requests in the same run, and the ratio of the p50s.

    .venv/bin/python bench/voice_latency.py [--turns 30] [--concurrent 8] [--agent scripted]
        [--no-compare-turns] [--no-peer] [--webrtc]

Prints the figures, then one JSON line. With --webrtc the browser half
(bench/voice_latency_webrtc.py) runs too and its figures are merged with a ``webrtc_`` prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import numpy as np  # noqa: E402
from loguru import logger  # noqa: E402

from core.config import Settings  # noqa: E402
from core.store.db import make_engine  # noqa: E402
from core.store.migrate import upgrade  # noqa: E402
from tests.voice.conftest import synthesise  # noqa: E402
from tests.voice.server import EmailOutbox, scripted_agent, serve_voice  # noqa: E402
from tests.voice.twilio_client import TwilioCall  # noqa: E402
from voice.config import VoiceSettings  # noqa: E402
from voice.identity import link_number  # noqa: E402
from voice.services import VoiceServices, load_voice_services  # noqa: E402

# Everyday commands for the seeded world. A booking with someone asks a yes/no question; the
# request after it is then a new request said over that question, as callers do.
REQUESTS = [
    "What's on my calendar tomorrow?",
    "Am I free tomorrow afternoon?",
    "Take a note: call the plumber about the leak.",
    "Find my notes about the budget.",
    "When is my next meeting?",
    "Book a meeting with Bob tomorrow at three.",
    "What do I have on Friday?",
    "Remember that I prefer morning meetings.",
    "What can you do?",
    "Save a note that the printer code is four five one two.",
    "Do I have anything with Carol tomorrow?",
    "Schedule a call with Alice Smith on Friday at ten.",
    "Search my notes for the plumber.",
    "What meetings do I have this week?",
    "Please note that the team dinner is on Thursday.",
]
USER = ("acme", "alice")
# Requests with the pauses people make: a good end-of-turn strategy keeps each one turn.
PAUSED = [
    "No, don't send it.",
    "Book a table for two, at eight, on Friday.",
    "Well, actually, I think I would like the red one.",
    "Call Bob. Then call Carol.",
    "Yes, go ahead.",
    "Hmm, let me think, maybe tomorrow.",
    "Send the report to Alice, and copy Bob.",
    "Okay, so, what is on my calendar?",
]
# Whole requests that go on after a pause ("Cancel my meeting with Carol tomorrow, ... at
# noon."): the words before the pause already read as a request, so the turn may end early.
GOES_ON = [
    ("Email Alice about the budget,", "please."),
    ("Book a meeting with Bob tomorrow at three,", "in the small room."),
    ("What's on my calendar tomorrow,", "in the morning?"),
    ("Take a note, call the plumber,", "about the leak."),
    ("Remember that I prefer morning meetings,", "on Mondays."),
    ("Find my notes about the budget,", "from last week."),
    ("Cancel my meeting with Carol tomorrow,", "at noon."),
    ("Schedule a call with Alice on Friday,", "at ten."),
]
SPEEDS = (0.9, 1.0, 1.1, 1.2)
# What a listener murmurs while the bot talks; none of it is a turn.
BACKCHANNELS = ["Uh-huh.", "Mhm.", "Okay.", "Right.", "Yeah.", "I see."]


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank), rounded to 0.1 ms."""
    if not values:
        return None
    return round(float(np.percentile(np.array(values), q, method="nearest")), 1)


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (the server runs in it), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def trimmed(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """The utterance without leading/trailing silence, so 'end of speech' is exact."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio


class Caller:
    """Synthesises requests once and replays them into calls."""

    def __init__(self, models: VoiceServices) -> None:
        self.models = models
        self._cache: dict[tuple[str, float], np.ndarray] = {}

    def audio(self, text: str, speed: float) -> np.ndarray:
        key = (text, speed)
        if key not in self._cache:
            self._cache[key] = trimmed(synthesise(self.models, text, speed, 0.667))
        return self._cache[key]


async def greet(call: TwilioCall) -> float:
    """Connect and wait for the greeting; returns connect -> first greeting audio (ms)."""
    await call.connect()
    first = await call.wait_for_audio(call.connected_at, timeout=30)
    await call.wait_quiet(quiet=1.0, timeout=60)
    return (first - call.connected_at) * 1000


async def one_turn(call: TwilioCall, audio: np.ndarray, quiet: float = 1.0) -> float:
    """Say a request; returns end of speech -> first bot audio (ms)."""
    spoken_until = await call.say(audio, 16000)
    first = await call.wait_for_audio(spoken_until, timeout=60)
    await call.wait_quiet(quiet=quiet, timeout=90)
    return (first - spoken_until) * 1000


def breakdown(workers: list[Any]) -> dict[str, Any]:
    """Median server-side stages over every answered turn, in ms from the end of speech.

    STT is the decoding still left when the VAD reports the stop (it starts at the pause, so
    it may be none); the silence wait overlaps it; run is the core plus the agent (the LLM's
    decision), from submitting the turn to the first reply text; TTS from that text to the
    first audio.
    """
    stt, wait, run, tts, server = [], [], [], [], []
    for worker in workers:
        for turn in worker.call_metrics.turns:
            t = turn.as_dict()
            if t["first_audio_ms"] is None or t["submitted_ms"] is None:
                continue
            if t["transcribed_ms"] is not None and t["vad_stopped_ms"] is not None:
                stt.append(max(0.0, t["transcribed_ms"] - t["vad_stopped_ms"]))
            if t["turn_ended_ms"] is not None:
                wait.append(t["turn_ended_ms"])
            run.append(t["first_text_ms"] - t["submitted_ms"])
            tts.append(t["first_audio_ms"] - t["first_text_ms"])
            server.append(t["first_audio_ms"])
    return {
        "turn_end_wait_p50_ms": pct(wait, 50),
        "stt_p50_ms": pct(stt, 50),
        "run_llm_p50_ms": pct(run, 50),
        "tts_first_chunk_p50_ms": pct(tts, 50),
        "server_speech_end_to_audio_p50_ms": pct(server, 50),
    }


async def bench_single(server: Any, caller: Caller, turns: int) -> dict[str, Any]:
    voice = server.app.state.voice
    call = TwilioCall(server.url, caller=caller_number(0))
    greeting = await greet(call)
    worker = next(iter(voice.calls.values()))
    latencies = []
    for i in range(turns):
        latencies.append(await one_turn(call, request_audio(caller, i)))
    figures = {
        "phone_turns": len(latencies),
        "phone_voice_to_voice_p50_ms": pct(latencies, 50),
        "phone_voice_to_voice_p95_ms": pct(latencies, 95),
        "phone_first_greeting_ms": round(greeting, 1),
    }
    stages = breakdown([worker])
    figures.update({f"phone_{k}": v for k, v in stages.items()})
    figures["phone_traced_over_heard_ratio_p50"] = traced_over_heard(
        worker.call_metrics.turns, latencies
    )
    print_slowest(worker.call_metrics.turns)
    await call.hang_up()
    return figures


def traced_over_heard(turns: list[Any], heard_ms: list[float]) -> float | None:
    """Median of each turn's traced latency (its ``voice.turn`` span: the VAD's end of speech
    to the first audio out) over the latency the caller measured; None when the server's
    turns do not pair one to one with the caller's (a request split into two turns)."""
    traced = [
        (t.first_audio - t.speech_ended) * 1000
        for t in turns
        if t.first_audio is not None and t.speech_ended is not None
    ]
    if len(traced) != len(heard_ms) or not traced:
        return None
    return round(float(np.median([a / b for a, b in zip(traced, heard_ms, strict=True)])), 3)


def print_slowest(turns: list[Any], count: int = 5) -> None:
    """The slowest answered turns, heard text and server stages, to see what the tail is."""
    answered = [t.as_dict() for t in turns]
    answered = [t for t in answered if t["first_audio_ms"] is not None]
    answered.sort(key=lambda t: -t["first_audio_ms"])
    print(f"slowest {min(count, len(answered))} turns (ms from end of speech, server side):")
    for t in answered[:count]:
        stages = " ".join(
            f"{name}={t[f'{name}_ms']:.0f}"
            for name in ("transcribed", "turn_ended", "first_text", "first_audio")
            if t[f"{name}_ms"] is not None
        )
        print(f"  {stages}  heard {t['text']!r}")


async def bench_barge_in(server: Any, caller: Caller, times: int) -> dict[str, Any]:
    """Talk over a long answer: how soon the bot falls quiet, and how soon it is cleared."""
    call = TwilioCall(server.url, caller=caller_number(1))
    await greet(call)
    quiet: list[float] = []
    cleared: list[float] = []
    leaks = 0
    for i in range(times):
        spoken_until = await call.say(caller.audio("Tell me a short story.", SPEEDS[i % 4]), 16000)
        await call.wait_for_audio(spoken_until, timeout=60)
        await call.silence(1.0)
        onset = time.monotonic()
        # The caller's audio is trimmed: the onset is the first sound of their voice.
        ended = await call.say(caller.audio("Stop, that's enough.", SPEEDS[(i + 1) % 4]), 16000)
        clears = [t for t in call.received.clears if t >= onset]
        if clears:
            cleared.append((clears[0] - onset) * 1000)
            if call.received.audio_between(clears[0], ended).size:
                leaks += 1
            stopped = call.received.fell_quiet_after(onset)
            if stopped is not None and stopped <= clears[0]:
                quiet.append((stopped - onset) * 1000)
        await call.wait_quiet(quiet=1.0, timeout=60)
    await call.hang_up()
    return {
        "phone_barge_in_p50_ms": pct(quiet, 50),
        "phone_barge_in_p95_ms": pct(quiet, 95),
        "phone_barge_in_clear_p50_ms": pct(cleared, 50),
        "phone_barge_in_missed": times - len(cleared),
        "phone_barge_in_audio_after_clear": leaks,
    }


async def bench_backchannels(server: Any, caller: Caller, times: int) -> dict[str, Any]:
    """Murmur over a long answer: a backchannel must neither stop the bot nor become a turn.
    Counts the murmurs that interrupted (a clear) and how long the bot paused for the rest."""
    call = TwilioCall(server.url, caller=caller_number(0))
    await greet(call)
    interrupted = 0
    paused: list[float] = []
    for i in range(times):
        spoken_until = await call.say(caller.audio("Tell me a short story.", SPEEDS[i % 4]), 16000)
        await call.wait_for_audio(spoken_until, timeout=60)
        await call.silence(1.0)
        onset = time.monotonic()
        said = BACKCHANNELS[i % len(BACKCHANNELS)]
        await call.say(caller.audio(said, SPEEDS[(i + 2) % 4]), 16000)
        await call.silence(1.5)
        if any(t >= onset for t in call.received.clears):
            interrupted += 1
        else:
            stopped = call.received.fell_quiet_after(onset)
            resumed = None if stopped is None else call.received.first_media_after(stopped + 0.001)
            if stopped is not None and resumed is not None:
                paused.append((resumed - stopped) * 1000)
        await call.wait_quiet(quiet=1.0, timeout=60)
    await call.hang_up()
    return {
        "phone_backchannels": times,
        "phone_backchannel_false_interruptions": interrupted,
        "phone_backchannel_pause_p50_ms": pct(paused, 50),
    }


async def bench_goes_on(server: Any, caller: Caller, gaps: list[float]) -> dict[str, Any]:
    """Whole requests continued after a silence of each of ``gaps`` seconds: how many were
    cut in two turns at the pause."""
    call = TwilioCall(server.url, caller=caller_number(0))
    await greet(call)
    worker = next(iter(server.app.state.voice.calls.values()))
    figures: dict[str, Any] = {"phone_goes_on_requests": len(GOES_ON)}
    for gap in gaps:
        cut = 0
        for before, after in GOES_ON:
            first = caller.audio(before, 1.0)
            audio = np.concatenate(
                [first, np.zeros(round(16000 * gap), dtype=first.dtype), caller.audio(after, 1.0)]
            )
            heard = len(worker.bridge.turns_heard)
            await one_turn(call, audio, quiet=2.0)
            cut += len(worker.bridge.turns_heard) - heard > 1
        figures[f"phone_goes_on_after_{round(gap * 1000)}ms_cut"] = cut
    await call.hang_up()
    return figures


async def bench_concurrent(server: Any, caller: Caller, calls: int, turns: int) -> dict[str, Any]:
    async def one(index: int) -> tuple[float, list[float]]:
        call = TwilioCall(server.url, caller=caller_number(index + 2))
        await asyncio.sleep(index * 0.25)  # callers do not all ring in the same millisecond
        greeting = await greet(call)
        latencies = []
        for t in range(turns):
            text = REQUESTS[(index * turns + t) % len(REQUESTS)]
            latencies.append(await one_turn(call, caller.audio(text, SPEEDS[(index + t) % 4])))
        await call.hang_up()
        return greeting, latencies

    results = await asyncio.gather(*(one(i) for i in range(calls)))
    latencies = [x for _, lat in results for x in lat]
    return {
        "concurrent_calls": calls,
        "concurrent_turns": len(latencies),
        "concurrent_voice_to_voice_p50_ms": pct(latencies, 50),
        "concurrent_voice_to_voice_p95_ms": pct(latencies, 95),
        "concurrent_first_greeting_p95_ms": pct([g for g, _ in results], 95),
    }


async def bench_turn_strategy(
    models: VoiceServices, caller: Caller, data: Path, strategy: str
) -> dict[str, Any]:
    """False cut-offs (a paused request split into several turns) and latency."""
    engine = make_engine(f"sqlite:///{data / f'turns-{strategy}.db'}")
    upgrade(engine)
    cutoffs, latencies = 0, []
    async with serve_voice(
        models, engine, data, EmailOutbox(), voice_turn=strategy, worker_poll_seconds=0.02
    ) as server:
        call = TwilioCall(server.url, caller="+15557200000")
        await greet(call)
        worker = next(iter(server.app.state.voice.calls.values()))
        for i, text in enumerate(PAUSED):
            before = len(worker.bridge.turns_heard)
            latencies.append(await one_turn(call, caller.audio(text, SPEEDS[i % 4]), quiet=1.5))
            if len(worker.bridge.turns_heard) - before > 1:
                cutoffs += 1
        await call.hang_up()
    engine.dispose()
    return {
        f"turns_{strategy}_false_cutoffs": cutoffs,
        f"turns_{strategy}_requests": len(PAUSED),
        f"turns_{strategy}_voice_to_voice_p50_ms": pct(latencies, 50),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="baton-voice-bench-"))
    t0 = time.perf_counter()
    models = load_voice_services(
        Settings(data_dir=data),
        VoiceSettings(whisper_model=args.whisper, voice_turn="smart_turn"),
        make_engine(f"sqlite:///{data / 'unused.db'}"),
    )
    figures: dict[str, Any] = {
        "models_load_s": round(time.perf_counter() - t0, 2),
        "whisper_model": args.whisper,
        "agent": args.agent,
        "cpu_count": os.cpu_count(),
    }
    caller = Caller(models)
    # Synthesised before any call: synthesis on the event loop would stall the line.
    story, stop = "Tell me a short story.", "Stop, that's enough."
    for text in [*REQUESTS, *PAUSED, *BACKCHANNELS, story, stop]:
        for speed in SPEEDS:
            caller.audio(text, speed)
    for pair in GOES_ON:
        for part in pair:
            caller.audio(part, 1.0)
    engine = make_engine(f"sqlite:///{data / 'baton.db'}")
    upgrade(engine)
    agent_factory: Any = scripted_agent
    gate = None
    if args.agent != "scripted":
        from core.agent.factory import build_agent
        from core.tools.gate import ToolGate
        from core.tools.providers import build_registry

        # Nothing configured: what `baton serve` runs (the command layer, the embedded model).
        agent_settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'baton.db'}")
        figures["understanding"] = agent_settings.understanding
        agent_factory = lambda: build_agent(agent_settings, engine)  # noqa: E731
        gate = ToolGate(build_registry(agent_settings))
        seed_world(engine, agent_settings)
        agent_factory()  # starts the embedded model server before the first call
    for i in range(max(args.concurrent, 1) + 3):
        link_number(engine, *USER, caller_number(i))
    async with serve_voice(
        models, engine, data, EmailOutbox(), agent_factory=agent_factory, gate=gate,
        voice_turn="silence",
    ) as server:  # fmt: skip
        figures["turn_strategy"] = server.voice_settings.voice_turn
        figures["turn_wait_s"] = server.voice_settings.voice_turn_wait_secs
        figures.update(await bench_single(server, caller, args.turns))
        figures.update(await bench_barge_in(server, caller, args.barge_ins))
        figures.update(await bench_backchannels(server, caller, args.backchannels))
        if args.pause_gaps:
            gaps = [float(g) for g in args.pause_gaps.split(",")]
            figures.update(await bench_goes_on(server, caller, gaps))
        if args.concurrent:
            figures.update(
                await bench_concurrent(server, caller, args.concurrent, args.concurrent_turns)
            )
        figures["server_rss_mb"] = rss_mb("VmRSS")
        figures["server_peak_rss_mb"] = rss_mb("VmHWM")
    if args.peer:
        from bench.peer_pipecat import call_peer, serve_peer

        audio = [request_audio(caller, i) for i in range(args.turns)]
        async with serve_peer() as url:
            figures.update(await call_peer(url, audio))
        ours, theirs = figures["phone_voice_to_voice_p50_ms"], figures["peer_voice_to_voice_p50_ms"]
        if ours and theirs:
            figures["peer_over_baton_p50_ratio"] = round(theirs / ours, 2)
    if args.compare_turns:
        for strategy in ("silence", "smart_turn"):
            figures.update(await bench_turn_strategy(models, caller, data, strategy))
    return figures


def caller_number(index: int) -> str:
    """The phone number of the bench's ``index``-th caller (all of them are the seeded user)."""
    return f"+1555700{index:04d}"


def request_audio(caller: Caller, index: int) -> np.ndarray:
    """The ``index``-th request of a call, at a varying speed."""
    return caller.audio(REQUESTS[index % len(REQUESTS)], SPEEDS[index % len(SPEEDS)])


def seed_world(engine: Any, settings: Settings) -> None:
    """The caller's contacts, meetings (today to Friday) and notes."""
    from datetime import UTC, datetime, timedelta

    from core.contacts.service import ContactDraft, create_contact
    from core.tools.builtin.calendar_tools import CalendarTools
    from core.tools.builtin.notes_tools import save_note
    from core.tools.spec import ToolContext

    tenant, user = USER
    with engine.begin() as conn:
        for name, email in (
            ("Alice Smith", "alice.smith@example.com"),
            ("Bob Jones", "bob@example.com"),
            ("Carol Diaz", "carol@example.com"),
        ):
            create_contact(conn, tenant, user, ContactDraft(name=name, email=email))
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    meetings = [
        ("Standup", day + timedelta(days=1, hours=9), 15),
        ("Lunch with Carol", day + timedelta(days=1, hours=12, minutes=30), 60),
        ("Budget review", day + timedelta(days=2, hours=16), 60),
        ("Design review", day + timedelta(days=3, hours=14), 30),
    ]
    calendar = CalendarTools(settings)
    for i, (title, start, minutes) in enumerate(meetings):
        ctx = ToolContext(tenant, user, "run_seed", 1, f"seed-meeting-{i}", engine)
        args = {"title": title, "start": start.isoformat(), "duration_minutes": minutes}
        _run(calendar.book(args, ctx))
    for i, body in enumerate(
        ["Budget: the Q3 numbers are due on the 15th.", "Wifi password is on the fridge."]
    ):
        ctx = ToolContext(tenant, user, "run_seed", 1, f"seed-note-{i}", engine)
        _run(save_note({"body": body}, ctx))


def _run(coro: Any) -> Any:
    # Seeding happens inside the bench's event loop: run each tool call on a fresh one.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark; print figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=30, help="turns of the single call")
    parser.add_argument("--barge-ins", type=int, default=5, help="barge-ins measured")
    parser.add_argument("--backchannels", type=int, default=8, help="murmurs over the bot")
    parser.add_argument("--concurrent", type=int, default=8, help="calls at once (0: skip)")
    parser.add_argument("--concurrent-turns", type=int, default=3, help="turns per call")
    parser.add_argument(
        "--agent", default="default", help="default | scripted (harness checks only)"
    )
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip the peer")
    parser.add_argument("--whisper", default="tiny.en", help="tiny.en | base")
    parser.add_argument("--no-compare-turns", dest="compare_turns", action="store_false")
    parser.add_argument(
        "--pause-gaps",
        default="0.25,0.35,0.45",
        help="silences (s) inside whole requests that go on; empty to skip",
    )
    parser.add_argument("--webrtc", action="store_true", help="also run the WebRTC half")
    args = parser.parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    figures = asyncio.run(run(args))
    if args.webrtc:
        from bench.voice_latency_webrtc import webrtc_figures

        agent = "gateway" if args.agent == "default" else args.agent  # BATON_AGENT's default
        web = webrtc_figures(args.turns, args.concurrent, args.concurrent_turns, agent=agent)
        figures.update({k if k.startswith("webrtc") else f"webrtc_{k}": v for k, v in web.items()})
    for name, value in figures.items():
        print(f"{name:45} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
