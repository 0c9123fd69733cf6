"""A real browser as the caller: headless Chromium in a loopback-only network namespace.

aioice (the ICE stack under aiortc) drops 127.0.0.1 candidates, so a call over plain loopback
never connects. Inside a fresh network namespace whose loopback also carries 127.0.0.2 both
peers find a usable address, and nothing can leave the machine. The server and the browser are
started inside that namespace; everything they spawn stays there and is ended with it.

Used by tests/voice/test_browser_call.py and bench/voice_latency_webrtc.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CALL_SCRIPT = HERE / "call.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HOST = "127.0.0.2"


def browser_unavailable() -> str | None:
    """Why a browser call cannot run here (printed with the skip), or None when it can."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    node = shutil.which("node")
    if node is None:
        return "node is missing (Node.js 20 or later, with npm)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if not version.startswith("v") or int(version[1:].split(".")[0]) < 20:
        return f"playwright-core needs Node.js 20 or later, not {version or 'unknown'}"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return f"playwright-core is not installed (npm ci --prefix {HERE})"
    probe = f"baton-probe-{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip() or made.returncode}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class LoopbackNamespace:
    """A network namespace with only loopback (127.0.0.1 and 127.0.0.2) and its processes."""

    def __init__(self) -> None:
        self.name = f"baton-call-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> LoopbackNamespace:
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        try:
            self._ip("link", "set", "lo", "up")
            self._ip("addr", "add", f"{HOST}/8", "dev", "lo")
        except subprocess.CalledProcessError:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _ip(self, *args: str) -> None:
        subprocess.run(
            ["ip", "netns", "exec", self.name, "ip", *args], check=True, capture_output=True
        )

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def start(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, log: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process in the namespace; its output goes to ``log``."""
        out = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(
            self.command(argv),
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._procs.append(proc)
        return proc

    def run(
        self, argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the namespace to its end."""
        return subprocess.run(
            self.command(argv),
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def wait_http(self, url: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
        """Wait until ``url`` answers 200 inside the namespace (or ``proc`` dies)."""
        probe = (
            "import sys, urllib.request\n"
            "try:\n"
            f"    sys.exit(0 if urllib.request.urlopen({url!r}, timeout=1).status == 200 else 1)\n"
            "except Exception:\n"
            "    sys.exit(1)\n"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} before answering")
            if self.run([sys.executable, "-c", probe], timeout=10).returncode == 0:
                return
            time.sleep(0.3)
        raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """End a process started with :meth:`start` (and its process group)."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    @staticmethod
    def wait_log(log: Path, text: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
        """Wait until ``text`` appears in a process's log (or the process dies)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log.exists() and text in log.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}: no {text!r}")
            time.sleep(0.2)
        raise TimeoutError(f"{text!r} did not appear in {log} within {timeout:.0f} s")

    def close(self) -> None:
        """End every process in the namespace (ours, and what they spawned), then delete it."""
        for proc in self._procs:
            self.stop(proc)
        listed = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False
        )
        for pid in listed.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)


def call_from_browser(
    ns: LoopbackNamespace | None,
    page_url: str,
    mic_wav: Path | None,
    recording: Path | None,
    *,
    until: str = "answer",
    timeout_s: float = 90,
    pages: int = 1,
    stagger_ms: int = 0,
) -> dict[str, Any]:
    """Open the call page in headless Chromium, call, and return the page's call state.

    The WAV plays once as the microphone; what the page heard is written to ``recording``
    (WebM/Opus; None: not recorded). ``until`` is "answer", "answer:<text>" (the first answer
    after the caller spoke, containing the text), "<n>s", or "script:<scenario.json>" (a
    conversation whose steps speak on cue; ``mic_wav`` None). With ``pages`` > 1 that many calls
    run at once and the result lists their states under "pages". ``ns`` None: the caller is
    already inside the namespace.
    """
    argv = [
        "node",
        str(CALL_SCRIPT),
        page_url,
        str(mic_wav) if mic_wav is not None else "-",
        str(recording) if recording is not None else "-",
        until,
        str(timeout_s),
        str(pages),
        str(stagger_ms),
    ]
    env = {"CHROMIUM": CHROMIUM}
    if ns is not None:
        done = ns.run(argv, timeout=timeout_s + 30, env=env)
    else:
        done = subprocess.run(
            argv,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout_s + 30,
            stdin=subprocess.DEVNULL,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"the browser script printed no result:\n{done.stderr[-3000:]}")
    state: dict[str, Any] = json.loads(lines[-1])
    state["stderr_tail"] = done.stderr[-3000:]
    return state


def write_speech_wav(
    voice: Any, text: str, path: Path, *, lead_s: float = 1.0, tail_s: float = 2.0
) -> float:
    """Speak ``text`` with a Piper voice into a mono 16-bit WAV padded with silence.

    Returns the length of the speech alone, in seconds. The silent tail lets the server's VAD
    see the end of the turn; Chromium then plays silence (``%noloop``).
    """
    rate = int(voice.config.sample_rate)
    speech = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(rate * lead_s) + speech + b"\0\0" * int(rate * tail_s))
    return len(speech) / 2 / rate


def decode_recording(path: Path, rate: int = 16000) -> np.ndarray:
    """The page's WebM/Opus recording as mono float32 samples at ``rate`` (for Whisper)."""
    import av

    chunks: list[np.ndarray] = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32) / 32768.0
