"""The embedded offline LLM: llama.cpp's OpenAI-compatible server as a managed child process.

The server is xllamacpp (prebuilt manylinux wheel of llama.cpp with its native C++ HTTP
server and LLGuidance JSON-schema decoding). It runs in a child process so that a crash in
native code cannot take Baton down, its logs stay out of Baton's, and stopping it is a signal.
The child binds port 0 on 127.0.0.1 and reports the address it got on stdout; it exits by
itself when its parent dies.

Run as ``python -m models.embedded_server --model FILE --alias NAME`` (what the parent does).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from models.config import EmbeddedLLMConfig, ModelSpec
from models.weights import smollm2_gguf

_READY = "READY "


class EmbeddedServerError(RuntimeError):
    """The embedded LLM server could not start or stopped answering."""


class EmbeddedLLM:
    """One llama.cpp server child process serving one GGUF model."""

    def __init__(self, config: EmbeddedLLMConfig | None = None) -> None:
        self.config = config or EmbeddedLLMConfig()
        self._proc: subprocess.Popen[str] | None = None
        self._address: str | None = None
        self._log_path: Path | None = None
        self._temp_log = False
        self._lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        """The GGUF file served (SmolLM2-135M-Instruct unless configured)."""
        return self.config.model_path or smollm2_gguf()

    @property
    def api_base(self) -> str:
        """OpenAI-compatible base URL (``http://127.0.0.1:<port>/v1``) of a started server."""
        if self._address is None:
            raise EmbeddedServerError("the embedded LLM server is not started")
        return f"{self._address}/v1"

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def spec(self) -> ModelSpec:
        """The gateway's view of this server: a free, local model that needs tight decoding."""
        return ModelSpec(
            name="embedded",
            model=f"openai/{self.config.alias}",
            api_base=self.api_base,
            # litellm's OpenAI client insists on a key; the local server ignores it.
            api_key="sk-local-embedded",  # type: ignore[arg-type]
            timeout_s=120.0,
            max_output_tokens=256,
            input_cost_per_token=0.0,
            output_cost_per_token=0.0,
            local=True,
            few_shot=True,
            decoding="two_stage",
        )

    def start(self) -> str:
        """Start the child (once) and wait until it answers /health; return the API base."""
        with self._lock:
            if self.running:
                return self.api_base
            model = self.model_path
            if self.config.log_path is not None:
                self.config.log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log_path = self.config.log_path
            else:
                fd, name = tempfile.mkstemp(prefix="baton-embedded-llm-", suffix=".log")
                os.close(fd)
                self._log_path, self._temp_log = Path(name), True
            cmd = [
                sys.executable,
                "-m",
                "models.embedded_server",
                "--model",
                str(model),
                "--alias",
                self.config.alias,
                "--ctx",
                str(self.config.n_ctx),
                "--threads",
                str(self.config.threads),
                "--parallel",
                str(self.config.parallel),
            ]
            with self._log_path.open("ab") as log:
                self._proc = subprocess.Popen(
                    cmd,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                )
            try:
                self._address = self._wait_ready(self._proc)
                self._wait_healthy()
            except BaseException:
                self._terminate()
                raise
            atexit.register(self.stop)
            return self.api_base

    def _wait_ready(self, proc: subprocess.Popen[str]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.config.startup_timeout_s
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        try:
            while time.monotonic() < deadline:
                if not sel.select(timeout=0.2):
                    if proc.poll() is not None:
                        break
                    continue
                line = proc.stdout.readline()
                if line.startswith(_READY):
                    return line[len(_READY) :].strip().rstrip("/")
                if not line and proc.poll() is not None:
                    break
        finally:
            sel.close()
        raise EmbeddedServerError(
            f"embedded LLM server did not start ({self._why()}); log: {self._log_tail()}"
        )

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.config.startup_timeout_s
        last = ""
        while time.monotonic() < deadline:
            try:
                resp = httpx.get(f"{self._address}/health", timeout=2.0)
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = exc.__class__.__name__
            if not self.running:
                break
            time.sleep(0.05)
        raise EmbeddedServerError(f"embedded LLM server is not healthy ({last or self._why()})")

    def health(self) -> bool:
        """True when the server answers /health with 200."""
        if not self.running or self._address is None:
            return False
        try:
            return httpx.get(f"{self._address}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _why(self) -> str:
        if self._proc is None:
            return "not started"
        code = self._proc.poll()
        return "still starting (timed out)" if code is None else f"exit code {code}"

    def _log_tail(self, chars: int = 600) -> str:
        if self._log_path is None or not self._log_path.exists():
            return "(no log)"
        text = self._log_path.read_text(errors="replace")
        return text[-chars:].strip() or "(empty)"

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        self._address = None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def stop(self) -> None:
        """Stop the child process (idempotent)."""
        with self._lock:
            self._terminate()
            with contextlib.suppress(Exception):
                atexit.unregister(self.stop)
            if self._temp_log and self._log_path is not None:
                # A log nobody asked for is only kept while it can explain a failed start.
                self._log_path.unlink(missing_ok=True)
                self._temp_log = False


_shared: EmbeddedLLM | None = None
_shared_lock = threading.Lock()


def shared_embedded_llm(config: EmbeddedLLMConfig | None = None) -> EmbeddedLLM:
    """The process-wide embedded server, started on first use (the model loads once)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = EmbeddedLLM(config)
        elif config is not None and _serving(config) != _serving(_shared.config):
            raise EmbeddedServerError(
                "the embedded LLM server already runs with another model or size"
            )
        _shared.start()
        return _shared


def _serving(config: EmbeddedLLMConfig) -> tuple[object, ...]:
    """What changes the served model (log file and start-up patience do not)."""
    return (config.model_path, config.alias, config.n_ctx, config.threads, config.parallel)


def probe_gguf(path: Path) -> None:
    """Load a GGUF file in a throw-away server and stop it; raise when it does not load."""
    llm = EmbeddedLLM(EmbeddedLLMConfig(model_path=path, n_ctx=512, startup_timeout_s=60))
    try:
        llm.start()
    finally:
        llm.stop()


def _serve(args: argparse.Namespace) -> int:
    import xllamacpp as xlc

    parent = os.getppid()
    params = xlc.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    # Half the cores by default: llama.cpp's threads sync every token, and on a 2-core box
    # shared with STT/TTS two threads fell to ~3 tokens/s where one kept ~55.
    threads = args.threads if args.threads > 0 else max(1, (os.cpu_count() or 2) // 2)
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    try:
        server = xlc.Server(params)
    except RuntimeError as exc:
        print(f"error: llama.cpp could not load {args.model}: {exc}", file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(_READY + str(server.listening_address), flush=True)
    # Nothing else may go to the pipe the parent stopped reading: send stdout to the log.
    os.dup2(2, 1)
    while not stop.wait(1.0):
        if os.getppid() != parent:
            break
    del server
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process."""
    parser = argparse.ArgumentParser(description="Baton's embedded llama.cpp server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=1)
    return _serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
