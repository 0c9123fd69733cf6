"""Light WebRTC callers for the concurrency figures: aiortc peers instead of browser tabs.

Eight Chromium tabs take one to three cores of a two-core machine by themselves, so with them
a concurrency figure measures the callers, not the server. These callers speak the same
signalling (POST /api/offer with the caller's API key), send a WAV as Opus in real time and
time the audio they get back, at a fraction of the cost.

    python bench/webrtc_callers.py <base-url> <api-key> <mic.wav> <speech.json> <calls> <stagger-s>

``speech.json`` lists the [start, end] seconds of each request in the WAV. Prints one JSON line:
per call, the monotonic times of each request's end and of every stretch of audio heard.
Runs inside the benchmark's network namespace (see bench/voice_latency_webrtc.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import sys
import time
import wave
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

RATE = 48000
FRAME = RATE // 50  # 20 ms, one Opus packet
SPEECH_DB = -45.0  # as the call page: sound above this is speech
HANGOVER_S = 0.35


class WavMicrophone(MediaStreamTrack):
    """A WAV played as a microphone, in real time from the first frame asked for."""

    kind = "audio"

    def __init__(self, samples: np.ndarray) -> None:
        super().__init__()
        self.samples = samples
        self.position = 0
        self.started: float | None = None

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms (silence after the end of the WAV)."""
        if self.started is None:
            self.started = time.monotonic()
        delay = self.started + self.position / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self.samples[self.position : self.position + FRAME]
        if len(chunk) < FRAME:
            chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), dtype=np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.position
        frame.time_base = fractions.Fraction(1, RATE)
        self.position += FRAME
        return frame


def read_wav_48k(path: Path) -> np.ndarray:
    """A mono 16-bit WAV as int16 samples at 48 kHz."""
    with wave.open(str(path)) as src:
        rate = src.getframerate()
        pcm = np.frombuffer(src.readframes(src.getnframes()), dtype=np.int16)
    if rate == RATE:
        return pcm
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.int16)


async def listen(track: MediaStreamTrack, spans: list[list[float | None]]) -> None:
    """Note every stretch of sound on ``track`` as [start, end] monotonic seconds."""
    last_loud = 0.0
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        now = time.monotonic()
        if not isinstance(frame, av.AudioFrame):
            continue
        samples = frame.to_ndarray().astype(np.float32) / 32768.0
        level = 20 * np.log10(float(np.sqrt(np.mean(samples**2))) or 1e-6)
        is_open = bool(spans) and spans[-1][1] is None
        if level > SPEECH_DB:
            if not is_open:
                spans.append([now, None])
            last_loud = now
        elif is_open and now - last_loud > HANGOVER_S:
            spans[-1][1] = last_loud


async def one_call(
    client: httpx.AsyncClient,
    key: str,
    samples: np.ndarray,
    speech: list[list[float]],
    hold_s: float,
) -> dict[str, Any]:
    """Call, speak the WAV, listen until ``hold_s`` after it started; times in monotonic s."""
    pc = RTCPeerConnection()
    microphone = WavMicrophone(samples)
    pc.addTrack(microphone)
    pc.createDataChannel("baton")
    heard: list[list[float | None]] = []
    listening: list[asyncio.Task[None]] = []

    @pc.on("track")
    def _on_track(track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            listening.append(asyncio.ensure_future(listen(track, heard)))

    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def _on_state() -> None:
        if pc.connectionState == "connected":
            connected.set()

    started = time.monotonic()
    try:
        await pc.setLocalDescription(await pc.createOffer())
        answer = await client.post(
            "/api/offer",
            json={"sdp": pc.localDescription.sdp, "type": pc.localDescription.type},
            headers={"Authorization": f"Bearer {key}"},
        )
        answer.raise_for_status()
        body = answer.json()
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        await asyncio.wait_for(connected.wait(), 30)
        connected_at = time.monotonic()
        await asyncio.sleep(max(0.0, started + hold_s - time.monotonic()))
    finally:
        await pc.close()
        for task in listening:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    mic_start = microphone.started or started
    return {
        "started": started,
        "connected": connected_at,
        "request_ends": [mic_start + end for _start, end in speech],
        "request_starts": [mic_start + start for start, _end in speech],
        "heard": [span for span in heard if span[1] is not None],
    }


async def call_many(
    base_url: str, key: str, wav: Path, speech: list[list[float]], calls: int, stagger_s: float
) -> list[dict[str, Any]]:
    """``calls`` callers at once, started ``stagger_s`` apart; failed calls report an error."""
    samples = read_wav_48k(wav)
    hold_s = len(samples) / RATE + 3.0

    async def staggered(index: int, client: httpx.AsyncClient) -> dict[str, Any]:
        await asyncio.sleep(index * stagger_s)
        try:
            return await one_call(client, key, samples, speech, hold_s)
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return await asyncio.gather(*(staggered(i, client) for i in range(calls)))


def main() -> None:
    """Run the callers and print their timings as one JSON line."""
    base_url, key, wav, speech_file, calls, stagger = sys.argv[1:7]
    speech = json.loads(Path(speech_file).read_text())
    results = asyncio.run(call_many(base_url, key, Path(wav), speech, int(calls), float(stagger)))
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
