"""A real browser calls /call over WebRTC and hears the answer.

Headless Chromium (the Debian package, driven by playwright-core) opens the call page of a
Baton server (API, in-process worker, voice pipeline, scripted agent) running in a
loopback-only network namespace, with a WAV synthesised by Piper as its microphone. The page
records what it hears; Whisper transcribes the recording, and the run is read back from the
store. Skips with the reason when Chromium, node/playwright-core or network namespaces are
missing. Runs on SQLite and on Postgres (reached through its Unix socket: the namespace has
no route to 127.0.0.1:5432 of the host).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest
from sqlalchemy import select

from core.auth.keys import create_key
from core.runs.service import RunStore
from core.store.db import make_engine
from core.store.tables import ToolInvocation
from tests.browser.harness import (
    HOST,
    LoopbackNamespace,
    browser_unavailable,
    call_from_browser,
    decode_recording,
    write_speech_wav,
)
from tests.engines import SQLITE_ONLY
from voice.services import VoiceServices

pytestmark = [pytest.mark.slow, SQLITE_ONLY]
PORT = 8765
REPO = Path(__file__).resolve().parents[2]
BATON = Path(sys.executable).with_name("baton")
PG_SOCKET_DIR = Path("/var/run/postgresql")
BASE = f"http://{HOST}:{PORT}"
INVOCATIONS = ToolInvocation.__table__  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def netns() -> Iterator[LoopbackNamespace]:
    reason = browser_unavailable()
    if reason:
        print(f"\nSKIP browser call: {reason}")
        pytest.skip(reason)
    with LoopbackNamespace() as ns:
        yield ns


def inside_namespace_url(database_url: str) -> str:
    """The same database as seen from the namespace: Postgres through its Unix socket."""
    if not database_url.startswith("postgresql"):
        return database_url
    if not (PG_SOCKET_DIR / ".s.PGSQL.5432").exists():
        reason = f"no Postgres Unix socket in {PG_SOCKET_DIR} to reach from the namespace"
        print(f"\nSKIP browser call on postgres: {reason}")
        pytest.skip(reason)
    parts = urlsplit(database_url)
    netloc = parts.netloc.split("@")[0] + "@"
    query = f"{parts.query}&host={PG_SOCKET_DIR}" if parts.query else f"host={PG_SOCKET_DIR}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@contextlib.contextmanager
def baton_serve(
    netns: LoopbackNamespace, database_url: str, tmp_path: Path, **env: str
) -> Iterator[None]:
    """`baton serve` (API, workers, voice) in the namespace, models loaded; stopped after."""
    log = tmp_path / "server.log"
    server = netns.start(
        [str(BATON), "serve"],
        env={
            "BATON_DATA_DIR": str(tmp_path / "data"),
            "BATON_DATABASE_URL": inside_namespace_url(database_url),
            "BATON_AGENT": "scripted",
            "BATON_HOST": HOST,
            "BATON_PORT": str(PORT),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **env,
        },
        log=log,
    )
    try:
        netns.wait_http(f"{BASE}/healthz", timeout=90, proc=server)
        # The models load in the background after start-up; a call before that would hear
        # its greeting late, over the caller's first words.
        netns.wait_log(log, "voice models loaded", timeout=90, proc=server)
        yield
    finally:
        netns.stop(server)


def server_log(tmp_path: Path) -> str:
    return (tmp_path / "server.log").read_text(errors="replace")[-4000:]


def kept(state: dict, tmp_path: Path) -> dict:
    """The page's state, also written next to the server log for a failure's post-mortem."""
    (tmp_path / "page_state.json").write_text(json.dumps(state, indent=1))
    return state


def test_browser_call_over_webrtc_hears_the_answer(
    netns: LoopbackNamespace,
    database_url: str,
    voice_models: VoiceServices,
    transcribe: Callable[[np.ndarray, int], str],
    tmp_path: Path,
) -> None:
    engine = make_engine(database_url)
    key = create_key(engine, "acme", "alice")
    mic = tmp_path / "caller.wav"
    # The greeting plays first; the caller speaks after it, as people do.
    write_speech_wav(voice_models.piper, "What is the capital of France?", mic, lead_s=4.0)

    recording = tmp_path / "heard.webm"
    with baton_serve(netns, database_url, tmp_path):
        state = kept(
            call_from_browser(
                netns, f"{BASE}/call?record=1#key={key}", mic, recording, until="answer:you said"
            ),
            tmp_path,
        )
    assert state["ok"], (state, server_log(tmp_path))

    # The page showed the caller's words and Baton's answer...
    said = [line["text"] for line in state["lines"] if line["role"] == "user"]
    answered = [line["text"] for line in state["lines"] if line["role"] == "bot"]
    assert any("capital of france" in text.lower() for text in said), state["lines"]
    assert any("you said" in text.lower() for text in answered), state["lines"]

    # ...the caller heard the greeting and the answer through WebRTC...
    heard = transcribe(decode_recording(recording), 16000).lower()
    assert "how can i help" in heard, heard
    assert "you said" in heard and "capital of france" in heard, heard

    # ...and the run is in the store, as the signed-in user's.
    runs = RunStore(engine).list_runs("acme", "alice")
    assert len(runs) == 1, runs
    run = runs[0]
    assert "capital of france" in run["goal"].lower()
    assert run["status"] == "completed" and "you said" in (run["result"] or "").lower()
    assert run["meta"]["channel"] == "browser"
    engine.dispose()


# JavaScript condition on the call page (call.mjs): the question is shown and was asked aloud.
QUESTION_SHOWN = "window.__asked({text!r}, 700)"


def test_browser_call_shows_the_pending_question_and_takes_a_spoken_yes(
    netns: LoopbackNamespace,
    database_url: str,
    voice_models: VoiceServices,
    tmp_path: Path,
) -> None:
    engine = make_engine(database_url)
    key = create_key(engine, "acme", "alice")
    store = RunStore(engine)
    with baton_serve(
        netns,
        database_url,
        tmp_path,
        BATON_TOOL_APPROVAL_POLICY=json.dumps({"acme": {"require": ["notes_save"]}}),
    ):
        # A run from before the call, stopped at an approval for saving a note.
        run = store.create_run(
            "acme",
            "alice",
            "Save a note about the Paris trip",
            meta={
                "script": [
                    {
                        "type": "tool_call",
                        "tool": "notes_save",
                        "arguments": {"body": "Paris trip on Friday"},
                    },
                    {"type": "respond", "message": "Saved your note."},
                ]
            },
        )
        wait_until(lambda: store.get_run("acme", "alice", run["run_id"])["pending_approval_id"])

        for name, text in [("yes1", "Yes, please."), ("yes2", "Yes, go ahead.")]:
            write_speech_wav(voice_models.piper, text, tmp_path / f"{name}.wav", lead_s=0.2)
        scenario = tmp_path / "scenario.json"
        scenario.write_text(
            json.dumps(
                {
                    "steps": [
                        # The call offers to continue the open task...
                        {
                            "wait": QUESTION_SHOWN.format(text="open task"),
                            "say": str(tmp_path / "yes1.wav"),
                        },
                        # ...then asks the approval's one yes/no question.
                        {
                            "wait": QUESTION_SHOWN.format(text="Should I"),
                            "say": str(tmp_path / "yes2.wav"),
                        },
                    ],
                    "end": "window.__said('Saved your note', 700) && "
                    "window.batonCall.state.run.status === 'completed'",
                }
            )
        )
        state = kept(
            call_from_browser(
                netns, f"{BASE}/call#key={key}", None, None, until=f"script:{scenario}"
            ),
            tmp_path,
        )
    assert state["ok"], (state, server_log(tmp_path))

    offer, approval_question, after = state["snapshots"]
    assert offer["pendingShown"], offer
    assert "save a note about the paris trip" in offer["question"].lower(), offer
    assert approval_question["pendingShown"]
    assert "paris trip" in approval_question["question"].lower(), approval_question
    assert not after["pendingShown"], after
    assert any("saved your note" in line.lower() for line in after["lines"]), after["lines"]

    # The spoken yes is the approval: recorded once, by voice, with what was heard.
    final = store.get_run("acme", "alice", run["run_id"])
    assert final["status"] == "completed" and final["result"] == "Saved your note."
    (decided,) = store.approvals("acme", "alice", run["run_id"])
    assert decided["status"] == "approved" and decided["channel"] == "voice"
    assert "yes" in (decided["evidence"] or "").lower()
    with engine.connect() as conn:
        executed = conn.execute(
            select(INVOCATIONS.c.status).where(INVOCATIONS.c.run_id == run["run_id"])
        ).all()
    assert [row.status for row in executed] == ["succeeded"]
    engine.dispose()


def wait_until(predicate: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError("condition not met in time")
