"""A local stand-in for Twilio: it places a call the way Twilio does, over the real protocol.

It POSTs the voice webhook with a real X-Twilio-Signature (computed by the twilio library),
reads the TwiML answer, connects to the <Stream> URL with a real websocket, sends the
``connected``/``start`` messages and the caller's audio as 8 kHz µ-law ``media`` messages in
real time, and records what the server sends back (bot ``media``, ``clear``, ``mark``).
Used by the phone tests and by bench/voice_latency.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import soxr
import websockets
from twilio.request_validator import RequestValidator

FRAME_SAMPLES = 160  # 20 ms at 8 kHz, as Twilio sends
SILENCE_FRAME = b"\xff" * FRAME_SAMPLES  # µ-law 0xFF is zero
TWILIO_RATE = 8000
_BIAS, _CLIP = 0x84, 32635


def mulaw_encode(pcm: np.ndarray) -> bytes:
    """G.711 µ-law from int16 samples."""
    x = pcm.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    x = np.minimum(np.abs(x), _CLIP) + _BIAS
    exponent = np.floor(np.log2(x)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (x >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def mulaw_decode(data: bytes) -> np.ndarray:
    """int16 samples from G.711 µ-law."""
    u = ~np.frombuffer(data, np.uint8).astype(np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def to_phone_audio(audio: np.ndarray, rate: int) -> bytes:
    """Float audio at ``rate`` as 8 kHz µ-law bytes."""
    resampled = soxr.resample(audio.astype(np.float32), rate, TWILIO_RATE)
    pcm = np.clip(resampled * 32767, -32768, 32767).astype(np.int16)
    return mulaw_encode(pcm)


@dataclass
class Received:
    """What the server sent on the stream, with arrival times (monotonic seconds)."""

    media: list[tuple[float, bytes]] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    closed: tuple[int, str] | None = None

    def audio_between(self, start: float, end: float = float("inf")) -> np.ndarray:
        """Bot audio (float, 8 kHz) received in [start, end)."""
        chunks = [mulaw_decode(b) for t, b in self.media if start <= t < end]
        if not chunks:
            return np.zeros(0, np.float32)
        return np.concatenate(chunks).astype(np.float32) / 32768.0

    def first_media_after(self, start: float) -> float | None:
        """When the first bot audio after ``start`` arrived."""
        return next((t for t, _ in self.media if t >= start), None)

    def fell_quiet_after(self, start: float, gap: float = 0.25) -> float | None:
        """When the bot's audio stopped arriving after ``start``: the arrival of the last
        packet before the first pause of at least ``gap`` seconds (the server paces audio in
        real time, so only a stop leaves such a pause, or the audio has not come back since).
        None when it has not paused."""
        times = [t for t, _ in self.media if t >= start]
        paused = next((a for a, b in itertools.pairwise(times) if b - a >= gap), None)
        if paused is None and times and time.monotonic() - times[-1] >= gap:
            return times[-1]
        return paused

    def last_media_time(self) -> float | None:
        """When the latest bot audio arrived."""
        return self.media[-1][0] if self.media else None


class TwilioCall:
    """One phone call placed against a Baton server, as Twilio would place it."""

    def __init__(
        self,
        base_url: str,
        caller: str,
        auth_token: str | None = None,
        account_sid: str = "AC" + "0" * 32,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.caller = caller
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.call_sid = "CA" + uuid.uuid4().hex
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.received = Received()
        self.connected_at = 0.0
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._line_task: asyncio.Task[None] | None = None
        self._speech: deque[tuple[bytes, asyncio.Future[float] | None]] = deque()
        self._sequence = 0

    async def webhook(self) -> tuple[str, dict[str, str]]:
        """POST the voice webhook; returns the stream URL and its parameters from the TwiML."""
        url = f"{self.base_url}/telephony/twilio/voice"
        form = {
            "AccountSid": self.account_sid,
            "CallSid": self.call_sid,
            "From": self.caller,
            "To": "+15550000000",
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        headers = {}
        if self.auth_token:
            headers["X-Twilio-Signature"] = RequestValidator(self.auth_token).compute_signature(
                url, form
            )
        async with httpx.AsyncClient() as http:
            response = await http.post(url, data=form, headers=headers)
        response.raise_for_status()
        stream = ET.fromstring(response.text).find("./Connect/Stream")
        assert stream is not None, response.text
        params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return stream.get("url", ""), params

    async def connect(self, stream_url: str | None = None, params: dict[str, str] | None = None):
        """Open the media stream and send Twilio's ``connected`` and ``start`` messages."""
        if stream_url is None:
            stream_url, params = await self.webhook()
        self._ws = await websockets.connect(stream_url, max_size=2**22)
        self.connected_at = time.monotonic()
        self._reader = asyncio.create_task(self._read())
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send(
            {
                "event": "start",
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": params or {},
                },
                "streamSid": self.stream_sid,
            }
        )
        self._line_task = asyncio.create_task(self._line())

    async def send(self, message: dict[str, Any]) -> None:
        """Send one protocol message (a sequence number is added like Twilio does)."""
        self._sequence += 1
        message.setdefault("sequenceNumber", str(self._sequence))
        await self._ws.send(json.dumps(message))

    async def send_raw(self, data: str | bytes) -> None:
        """Send anything (for malformed-input tests)."""
        await self._ws.send(data)

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                now = time.monotonic()
                message = json.loads(raw)
                event = message.get("event")
                if event == "media":
                    self.received.media.append((now, base64.b64decode(message["media"]["payload"])))
                elif event == "clear":
                    self.received.clears.append(now)
                else:
                    self.received.other.append(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            close = getattr(self._ws, "close_code", None)
            self.received.closed = (close or 0, getattr(self._ws, "close_reason", "") or "")

    async def _line(self) -> None:
        """The phone line: one 20 ms media message every 20 ms, speech when queued, else silence.

        Twilio streams the caller's audio continuously, quiet or not; the server's VAD needs
        that silence to notice the end of speech.
        """
        started = time.monotonic()
        chunk = 0
        with contextlib.suppress(websockets.ConnectionClosed, asyncio.CancelledError):
            while True:
                chunk += 1
                frame, done = self._speech.popleft() if self._speech else (SILENCE_FRAME, None)
                await self.send(
                    {
                        "event": "media",
                        "streamSid": self.stream_sid,
                        "media": {
                            "track": "inbound",
                            "chunk": str(chunk),
                            "timestamp": str(chunk * 20),
                            "payload": base64.b64encode(frame).decode(),
                        },
                    }
                )
                if done is not None:
                    done.set_result(time.monotonic())
                delay = started + chunk * 0.02 - time.monotonic()
                await asyncio.sleep(max(0.0, delay))

    async def play(self, ulaw: bytes) -> float:
        """Queue caller audio on the line; returns when its last frame was sent."""
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        frames = [ulaw[i : i + FRAME_SAMPLES] for i in range(0, len(ulaw), FRAME_SAMPLES)]
        for i, frame in enumerate(frames):
            last = i == len(frames) - 1
            self._speech.append((frame.ljust(FRAME_SAMPLES, b"\xff"), done if last else None))
        return await done

    async def press(self, digit: str) -> float:
        """Press a key: Twilio's ``dtmf`` message; returns when it was sent."""
        await self.send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )
        return time.monotonic()

    async def silence(self, seconds: float) -> None:
        """Let the line carry silence for ``seconds``."""
        await asyncio.sleep(seconds)

    async def say(self, audio: np.ndarray, rate: int) -> float:
        """Speak ``audio``; returns the moment its last sample was sent."""
        return await self.play(to_phone_audio(audio, rate))

    async def wait_for_audio(self, after: float, timeout: float) -> float:
        """Wait until bot audio arrives after ``after``; returns its arrival time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            first = self.received.first_media_after(after)
            if first is not None:
                return first
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no bot audio within {timeout} s")

    async def wait_quiet(self, quiet: float = 2.5, timeout: float = 30.0) -> float:
        """Wait (the line carrying silence) until the bot has said nothing for ``quiet`` s.

        Piper speaks a reply sentence by sentence; on a busy machine the next sentence can take
        two seconds to synthesise, and a shorter quiet would cut the reply after its first.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            last = self.received.last_media_time() or self.connected_at
            if time.monotonic() - last >= quiet:
                return last
        raise TimeoutError(f"the bot kept talking for {timeout} s")

    async def hang_up(self) -> None:
        """Send Twilio's ``stop`` and close the socket."""
        if self._line_task is not None:
            self._line_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._line_task
            self._line_task = None
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.send(
                {
                    "event": "stop",
                    "streamSid": self.stream_sid,
                    "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                }
            )
        await self.close()

    async def close(self) -> None:
        """Stop the line, close the socket and stop reading."""
        if self._line_task is not None:
            self._line_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._line_task
            self._line_task = None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
