"""The API and the CLI as an outside tester probes them: property-based fuzzing from the OpenAPI
schema, then hand-written crash and bad-input probes.

The rule under test: bad input gets a 4xx with a reason, never a 5xx or a traceback, and never
changes stored data.
"""

from __future__ import annotations

import hashlib
import http.server
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python.asgi import get_client, shutdown_lifespans
from sqlalchemy import text

from core.agent.scripted import ScriptedAgent
from core.api.app import create_app
from core.auth.keys import create_key
from core.config import Settings
from core.runtime import Runtime, set_runtime
from core.store.db import make_engine
from core.tools.spec import RiskLevel
from tests.core.api_harness import api, auth
from tests.core.helpers import (
    bump_spec,
    count,
    drive,
    ensure_side_effects,
    gate_with,
    start_serve,
)

BATON = str(Path(sys.executable).parent / "baton")

APPROVE_SCRIPT = [
    {"type": "tool_call", "tool": "counter.bump", "arguments": {"n": 7}},
    {"type": "respond", "message": "bumped"},
]
STORED = ("runs", "run_events", "approvals", "tool_invocations", "checkpoints", "api_keys")
JSON = {"Content-Type": "application/json"}


def fingerprint(engine) -> str:
    """A digest of every stored row that a request could change."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in STORED:
            rows = sorted(repr(tuple(r)) for r in conn.execute(text(f"select * from {table}")))
            digest.update("\n".join([table, *rows]).encode())
    return digest.hexdigest()


def seed(client: Any, engine, gate, headers: dict[str, str]) -> dict[str, str]:
    """One completed run, one waiting for an approval, one queued: real ids to aim at."""
    done = client.post("/runs", json={"goal": "finish"}, headers=headers).json()
    waiting = client.post(
        "/runs", json={"goal": "approve me", "meta": {"script": APPROVE_SCRIPT}}, headers=headers
    ).json()
    drive(engine, gate)
    queued = client.post("/runs", json={"goal": "later"}, headers=headers).json()
    return {
        "completed": done["run_id"],
        "waiting": waiting["run_id"],
        "queued": queued["run_id"],
    }


def nest(levels: int) -> Any:
    """A JSON value ``2 * levels`` deep."""
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": [value]}
    return value


def approval_of(client: Any, run_id: str, headers: dict[str, str]) -> str:
    return client.get(f"/runs/{run_id}", headers=headers).json()["pending_approval_id"]


def assert_refused(r: Any, status: int, words: str = "") -> None:
    """A refusal: the status, the one error shape, and a reason that says ``words``."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    body = r.json()
    assert body.get("error") and body.get("detail"), r.text[:500]
    assert words.lower() in json.dumps(body["detail"]).lower(), (words, body)


# ----- property-based: every operation of the schema ----------------------------------------

# Not negative_data_rejection: FastAPI ignores unknown query parameters by design, and the
# valid key sent with every case turns "no Authorization" cases valid again.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=30,
    derandomize=True,  # the same cases on every run: CI stays deterministic
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def sqlite_engine(tmp_path, sqlite_template):
    # SQLite only: fuzzing checks the API layer's answers (status codes, shapes, schemas), which
    # do not depend on the store, and a second engine would double its time for no new path.
    # What does depend on the engine (NUL, integer range, non-finite numbers) is probed by hand
    # below on SQLite and PostgreSQL.
    path = tmp_path / "baton.db"
    shutil.copy(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def fuzz_target(sqlite_engine):
    """The app with real runs in it, its schema as Schemathesis loads it, and a valid key."""
    ensure_side_effects(sqlite_engine)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
    s = Settings(plugins="none", agent="scripted")
    set_runtime(Runtime(s, sqlite_engine, lambda: gate, ScriptedAgent))
    app: Any = create_app(s)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the lifespan
        headers = {"Authorization": f"Bearer {create_key(sqlite_engine, 'acme', 'alice')}"}
        with get_client(app) as client:
            ids = seed(client, sqlite_engine, gate, headers)
        yield schema, headers, ids
    finally:
        shutdown_lifespans()
        set_runtime(None)


def _strategies(operation: Any, ids: dict[str, str]) -> list[Any]:
    found = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            found.append(operation.as_strategy(generation_mode=mode))
        except Exception:  # nothing in this operation can be made invalid
            continue
    if "{run_id}" in operation.path:
        for state, rid in ids.items():
            # No worker runs here, so an unfinished run's event stream would never end.
            query = {"follow": False} if operation.path.endswith("/events") else None
            if state == "completed":
                query = None
            found.append(operation.as_strategy(path_parameters={"run_id": rid}, query=query))
    return found


def test_every_operation_answers_within_its_schema(fuzz_target):
    schema, headers, ids = fuzz_target
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @FUZZ
        @given(case=st.one_of(_strategies(operation, ids)))
        def probe(case: Any) -> None:
            case.headers = {**(case.headers or {}), **headers}  # over any generated bearer
            case.call_and_validate(checks=CHECKS, timeout=20)

        try:
            probe()
        except Exception as exc:
            failures.append(f"{operation.label}:\n{exc}")
    assert not failures, "\n\n".join(failures)


def test_stateful_sequences_stay_within_the_schema(fuzz_target, sqlite_engine):
    """Chains of calls along the links Schemathesis infers (create a run, then act on it)."""
    schema, _headers, _ids = fuzz_target
    # Hypothesis replays a scenario's choices and rejects data that depends on outside state
    # as a flaky strategy. So every scenario starts as a new tenant with nothing stored, and
    # the answers that move with time (a trace filling in as its exporter flushes, spend,
    # metrics, MCP sessions) are fuzzed one by one above instead.
    chained = schema.exclude(path_regex="/trace$|^/(metrics|costs|mcp)")
    scenarios = itertools.count()

    class Machine(chained.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            n = next(scenarios)
            key = create_key(sqlite_engine, f"fuzz{n}", "alice")
            self.headers = {"Authorization": f"Bearer {key}"}

        def before_call(self, case: Any) -> None:
            case.headers = {**(case.headers or {}), **self.headers}
            if case.operation.path.endswith("/events"):
                case.query = {**(case.query or {}), "follow": False}  # no worker: never ends

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"timeout": 20}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=8,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )


# ----- hand-written probes, on SQLite and PostgreSQL ----------------------------------------


def test_malformed_bodies_get_a_reason_and_change_nothing(engine):
    ensure_side_effects(engine)
    gate = gate_with(bump_spec(RiskLevel.EXTERNAL_SIDE_EFFECT))
    with api(engine, gate) as c:
        h = auth(engine, "acme", "alice")
        ids = seed(c, engine, gate, h)
        approve = f"/runs/{ids['waiting']}/approve"
        apr = approval_of(c, ids["waiting"], h)
        before = fingerprint(engine)
        hj = {**h, **JSON}
        msg = f"/runs/{ids['queued']}/messages"
        deep = b"[" * 100_000 + b"]" * 100_000
        huge_int = b'{"goal": "x", "meta": {"n": ' + b"9" * 5000 + b"}}"
        nan_args = b'{"approval_id": "%s", "decision": "approve", "arguments": {"n": NaN}}'

        def raw_json(content: bytes) -> dict[str, Any]:
            return {"content": content, "headers": hj}

        def typed(content_type: str) -> dict[str, Any]:
            return {"content": b'{"goal": "x"}', "headers": {**h, "Content-Type": content_type}}

        # fmt: off
        cases: list[tuple[str, str, dict[str, Any], int, str]] = [
            ("POST", "/runs", raw_json(b'{"goal": "\xff\xfe"}'), 400, "UTF-8"),
            ("POST", "/runs", raw_json(deep), 422, "nested"),
            ("POST", "/runs", {"json": {"goal": "x", "meta": nest(40)}}, 422, "nested"),
            ("POST", "/runs", raw_json(huge_int), 400, "digits"),
            ("POST", "/runs", raw_json(b'{"goal": "a\\u0000b"}'), 422, "NUL"),
            ("POST", "/runs", raw_json(b'{"goal": "x", "meta": {"\\u0000": 1}}'), 422, "NUL"),
            ("POST", msg, raw_json(b'{"text": "hi\\u0000"}'), 422, "NUL"),
            ("POST", "/runs", raw_json(b'{"goal": "\\ud800"}'), 422, "surrogate"),
            ("POST", "/runs", raw_json(b'{"goal": "\\udc00x"}'), 422, "surrogate"),
            ("POST", "/runs", raw_json(b'{"goal": "x", "meta": {"v": NaN}}'), 422, "finite"),
            ("POST", "/runs", raw_json(b'{"goal": "x", "meta": [-Infinity]}'), 422, "finite"),
            ("POST", "/runs", raw_json(b'{"goal": "x", "meta": {"v": 1e400}}'), 422, "finite"),
            ("POST", approve, raw_json(nan_args % apr.encode()), 422, "finite"),
            ("POST", "/runs", typed("text/plain"), 415, "JSON"),
            ("POST", "/runs", typed(""), 415, "JSON"),
            ("POST", "/runs", {"data": {"goal": "x"}}, 415, "JSON"),
            ("POST", "/runs", {"files": {"goal": ("g.txt", b"x")}}, 415, "JSON"),
            ("POST", "/runs", {"json": [{"goal": "x"}]}, 422, "dictionary"),
            ("POST", "/runs", {"json": "goal"}, 422, "dictionary"),
            ("POST", "/runs", raw_json(b"null"), 422, "dictionary"),
            ("POST", "/runs", raw_json(b""), 422, "required"),
            ("POST", "/runs", raw_json(b'{"goal": "x",}'), 422, "JSON"),
            ("POST", "/runs", {"json": {"goal": 5}}, 422, "string"),
            ("POST", "/runs", {"json": {"goal": "x", "max_steps": True}}, 422, "integer"),
            ("POST", "/runs", {"json": {"goal": "x", "max_steps": "3"}}, 422, "integer"),
            ("POST", "/runs", {"json": {"goal": "x", "max_steps": 0}}, 422, "greater"),
            ("POST", "/runs", {"json": {"goal": "x", "max_steps": 10**40}}, 422, "max_steps"),
            ("POST", "/runs", {"json": {"goal": "x", "channel": "pigeon"}}, 422, "channel"),
            ("POST", f"/runs/{ids['queued']}/cancel", {"json": []}, 422, "dictionary"),
            ("POST", approve, {"json": {"approval_id": apr, "decision": "approve",
                                        "arguments": [1]}}, 422, "dictionary"),
            ("POST", msg, {"json": {"text": 7}}, 422, "string"),
        ]
        # fmt: on
        for method, path, kwargs, status, words in cases:
            kwargs.setdefault("headers", h)
            r = c.request(method, path, **kwargs)
            assert_refused(r, status, words)
            assert fingerprint(engine) == before, (method, path, kwargs.get("content"))

        # what is valid still works: a surrogate pair is an emoji, deep-but-sane meta is kept
        ok = c.post("/runs", content=b'{"goal": "smile \\ud83d\\ude00"}', headers=hj)
        assert ok.status_code == 201 and ok.json()["goal"] == "smile \U0001f600"
        nested = nest(30)
        kept = c.post("/runs", json={"goal": "deep", "meta": nested}, headers=h)
        assert kept.status_code == 201, kept.text[:300]
        events = c.get(
            f"/runs/{kept.json()['run_id']}/events", headers={**h, "Accept": "application/json"}
        )
        assert events.status_code == 200 and events.json()[0]["data"]["meta"] == nested


def test_numbers_out_of_range_and_garbage_cursors_are_refused(engine):
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        rid = c.post("/runs", json={"goal": "count"}, headers=h).json()["run_id"]
        before = fingerprint(engine)
        as_json = {**h, "Accept": "application/json"}
        events = f"/runs/{rid}/events"
        for params in ({"after": 2**31}, {"after": 10**30}, {"after": -1}, {"after": "1e3"}):
            assert_refused(c.get(events, params=params, headers=as_json), 422, "after")
        garbage: list[Any] = ["abc", "-1", "", "1.5", "2147483648", "9" * 30, b"\xb2", "0x"]
        for value in garbage:
            for accept in ("application/json", "text/event-stream"):
                r = c.get(events, headers={**h, "Accept": accept, "Last-Event-ID": value})
                assert_refused(r, 422, "Last-Event-ID")
        for params in ({"limit": 0}, {"limit": 10**30}, {"limit": "many"}):
            assert_refused(c.get("/runs", params=params, headers=h), 422, "limit")
        for params in ({"offset": 2**31}, {"offset": -1}, {"limit": 10**6}):
            assert_refused(c.get("/memories", params=params, headers=h), 422)
        assert fingerprint(engine) == before
        # the largest cursor every store can compare with is simply past the end
        assert c.get(events, params={"after": 2**31 - 1}, headers=as_json).json() == []
        lei = {**as_json, "Last-Event-ID": str(2**31 - 1)}
        assert c.get(events, headers=lei).json() == []
        assert c.get("/memories", params={"offset": 2**31 - 1}, headers=h).json() == []
        assert [e["seq"] for e in c.get(events, params={"after": 1}, headers=as_json).json()] == [2]


def test_odd_ids_are_not_found_and_change_nothing(engine):
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        mine = c.post("/runs", json={"goal": "mine"}, headers=h).json()["run_id"]
        before = fingerprint(engine)
        odd = [
            "ρυν_😀",
            "run_\u202e\u200b",
            "run_' OR '1'='1",
            "run_%25",
            "..%2F..%2Fetc%2Fpasswd",
            "%2e%2e",
            "run_" + "a" * 5000,
            mine.upper(),
            mine + " ",
        ]
        for rid in odd:
            for method, tail, body in (
                ("GET", "", None),
                ("GET", "/approvals", None),
                ("GET", "/events", None),
                ("POST", "/cancel", {}),
                ("POST", "/messages", {"text": "hi"}),
                ("POST", "/follow-up", {"text": "hi"}),
                ("POST", "/approve", {"approval_id": rid, "decision": "deny"}),
            ):
                r = c.request(
                    method,
                    f"/runs/{rid}{tail}",
                    json=body,
                    headers={**h, "Accept": "application/json"},
                )
                assert_refused(r, 404)
            for method in ("GET", "DELETE"):
                assert_refused(c.request(method, f"/memories/{rid}", headers=h), 404)
        for path in ("/runs/run_%00x", "/runs?status=%00", "/memories/search?q=a%00b"):
            assert_refused(c.get(path, headers=h), 422, "NUL")
        assert fingerprint(engine) == before
        assert c.get("/runs", params={"status": "\u202e😀"}, headers=h).json() == []


def test_odd_headers_get_a_reason(engine):
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        before = fingerprint(engine)
        bad: list[Any] = ["Bearer", "Bearer ", "Basic Zm9v", "Bearer \x7f", b"Bearer bk_\xe9"]
        for value in bad:
            assert_refused(c.get("/runs", headers={"Authorization": value}), 401, "key")
        huge = {**h, "X-Padding": "a" * 200_000, **{f"X-H{i}": "v" for i in range(500)}}
        assert c.get("/runs", headers=huge).status_code == 200
        assert c.get("/healthz", headers={"Accept": "\x01garbage"}).status_code == 200
        assert fingerprint(engine) == before


def test_idempotency_key_edge_cases(engine):
    with api(engine, gate_with(), max_goal_chars=100) as c:
        h = auth(engine, "acme", "alice")
        before = fingerprint(engine)
        for key in ("", "k" * 201):
            r = c.post("/runs", json={"goal": "x"}, headers={**h, "Idempotency-Key": key})
            assert_refused(r, 422, "Idempotency-Key")
        too_long = c.post("/runs", json={"goal": "y" * 101}, headers={**h, "Idempotency-Key": "k1"})
        assert_refused(too_long, 413, "limit")
        assert fingerprint(engine) == before  # a refused request does not burn its key

        keys: list[Any] = ["k" * 200, b"caf\xe9-\xff", "k1"]  # bytes: latin-1 on the wire
        for key in keys:
            first = c.post("/runs", json={"goal": "y"}, headers={**h, "Idempotency-Key": key})
            again = c.post("/runs", json={"goal": "y"}, headers={**h, "Idempotency-Key": key})
            assert (first.status_code, again.status_code) == (201, 200), (key, again.text)
            assert first.json()["run_id"] == again.json()["run_id"]
        # same request, keys of a JSON object in another order: still the same request
        ordered = {**h, "Idempotency-Key": "meta-order"}
        a = c.post("/runs", json={"goal": "m", "meta": {"a": 1, "b": 2}}, headers=ordered)
        b = c.post("/runs", json={"meta": {"b": 2, "a": 1}, "goal": "m"}, headers=ordered)
        assert (a.status_code, b.status_code) == (201, 200)
        # another request under a used key is a conflict and changes nothing
        now = fingerprint(engine)
        clash = c.post("/runs", json={"goal": "other"}, headers={**h, "Idempotency-Key": "k1"})
        assert_refused(clash, 409, "different request")
        assert fingerprint(engine) == now
        # keys belong to their user: another user's identical key makes that user's own run
        bob = {**auth(engine, "acme", "bob"), "Idempotency-Key": "k1"}
        theirs = c.post("/runs", json={"goal": "y"}, headers=bob)
        assert theirs.status_code == 201 and theirs.json()["run_id"] != a.json()["run_id"]


def test_concurrent_identical_posts_with_one_key_make_exactly_one_run(engine):
    with api(engine, gate_with()) as c:
        h = {**auth(engine, "acme", "alice"), "Idempotency-Key": "race-1"}
        n = 8
        start = threading.Barrier(n)

        def post(_: int) -> Any:
            start.wait()
            return c.post("/runs", json={"goal": "only once", "meta": {"x": 1}}, headers=h)

        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(post, range(n)))
        assert all(r.status_code in (200, 201) for r in answers), [r.text for r in answers]
        assert sorted(r.status_code for r in answers) == [200] * (n - 1) + [201]
        assert len({r.json()["run_id"] for r in answers}) == 1
        assert count(engine, "select count(*) from runs") == 1
        assert count(engine, "select count(*) from run_events") == 2  # RunCreated, RunQueued


def test_phone_webhook_answers_well_formed_twiml_for_a_garbled_caller_id(sqlite_engine, tmp_path):
    from tests.voice.server import create_voice_app
    from voice.config import VoiceSettings

    s = Settings(data_dir=tmp_path, plugins="voice", agent="scripted")
    set_runtime(Runtime(s, sqlite_engine, gate_with, ScriptedAgent))
    try:
        with TestClient(create_voice_app(s, VoiceSettings(voice_preload=False))) as c:
            r = c.post("/telephony/twilio/voice", data={"From": "+1\x00\x01<x>&", "CallSid": "CA1"})
    finally:
        set_runtime(None)
    assert r.status_code == 200
    stream = ElementTree.fromstring(r.content).find("./Connect/Stream/Parameter")
    assert stream is not None and stream.get("value") == "+1<x>&"


# ----- a real `baton serve`: the HTTP parser, and the CLI -----------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """`baton serve` on SQLite and a loopback port the OS picked, with a key for acme/alice."""
    home = tmp_path_factory.mktemp("live")
    env = {
        **os.environ,
        "BATON_DATA_DIR": str(home / "data"),
        "BATON_AGENT": "scripted",
        "BATON_PLUGINS": "none",
    }
    for name in ("BATON_API_KEY", "BATON_DATABASE_URL"):
        env.pop(name, None)
    made = subprocess.run(
        [BATON, "keys", "create", "--tenant", "acme", "--user", "alice", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    env["BATON_API_KEY"] = json.loads(made.stdout)["key"]
    proc, port = start_serve(env, home / "serve.log", "--no-workers")
    env["BATON_URL"] = f"http://127.0.0.1:{port}"
    try:
        yield env, port, home / "serve.log"
    finally:
        proc.terminate()
        proc.wait(20)


def raw(port: int, request: bytes, half_close: bool = False) -> bytes:
    """Send bytes as they are; return what the server answers before it hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        if half_close:  # the request is cut short: tell the server nothing more comes
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def http1(first: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    """One HTTP/1.1 request that asks the server to close the connection after answering."""
    return b"\r\n".join([first, b"Host: x", b"Connection: close", *headers, b"", body])


@pytest.mark.slow
def test_raw_http_garbage_never_gets_a_5xx(live):
    env, port, log = live
    bearer = b"Authorization: Bearer " + env["BATON_API_KEY"].encode()
    as_json = b"Content-Type: application/json"
    bad_utf8 = b'{"goal": "\xff\xfe"}'
    # (request, the status class it must get): odd but valid requests are served
    probes = [
        (http1(b"GET /runs HTTP/1.1", bearer, b"X-Big: " + b"a" * 100_000), b"2"),
        (http1(b"GET /runs HTTP/1.1", bearer, *(b"X-H%d: v" % i for i in range(3000))), b"2"),
        (http1(b"GET /runs HTTP/1.1", bearer, b"Idempotency-Key: \xe9\xff"), b"2"),
        (http1(b"POST /runs HTTP/1.1", bearer, b"Idempotency-Key: \xe9\xff", as_json,
               b"Content-Length: 15", body=b'{"goal": "caf"}'), b"2"),
        (http1(b"GET /runs HTTP/1.1", b"Authorization: Bearer \x01\x02"), b"4"),
        (http1(b"GET /runs HTTP/1.1", b"Authorization: Bearer bk_\xe9\xff"), b"4"),
        (http1(b"POST /runs HTTP/1.1", bearer, b"Content-Length: abc", body=b"{}"), b"4"),
        (http1(b"POST /runs HTTP/1.1", bearer, as_json, b"Content-Length: %d" % len(bad_utf8),
               body=bad_utf8), b"4"),
        (http1(b"POST /runs HTTP/1.1", bearer, as_json, b"Transfer-Encoding: chunked",
               body=b"zz\r\n{}\r\n0\r\n\r\n"), b"4"),
        (http1(b"GET /runs/%ff%fe/events HTTP/1.1", bearer), b"4"),
        (http1(b"GET /runs/run_x/events HTTP/1.1", bearer, b"Last-Event-ID: \xb2"), b"4"),
        (http1(b"GET /runs?limit=%ff&status=%00 HTTP/1.1", bearer), b"4"),
        (http1(b"BREW /runs HTTP/1.1"), b"4"),
        (http1(b"GET /runs/" + b"a" * 70_000 + b" HTTP/1.1", bearer), b"4"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, b"4"),  # TLS hello
    ]  # fmt: skip
    for request, status_class in probes:
        answer = raw(port, request)
        assert answer.startswith(b"HTTP/1.1 " + status_class), (request[:120], answer[:300])
    # a body shorter than it said, then the client goes quiet: no answer is owed, no crash
    cut = http1(b"POST /runs HTTP/1.1", bearer, as_json, b"Content-Length: 100", body=b'{"g')
    assert not raw(port, cut, half_close=True).startswith(b"HTTP/1.1 5")
    assert httpx.get(f"{env['BATON_URL']}/healthz").status_code == 200
    assert b"Traceback" not in log.read_bytes()
    runs = httpx.get(
        f"{env['BATON_URL']}/runs", headers={"Authorization": f"Bearer {env['BATON_API_KEY']}"}
    ).json()
    assert [r["goal"] for r in runs] == ["caf"]  # the one valid request, nothing else


def baton(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, *args], env={**env, **extra}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def not_baton(tmp_path):
    """A web server that answers 200 with HTML: a BATON_URL pointing at the wrong thing."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "run_x").write_text("<html>hello</html>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, directory=str(tmp_path), **k)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_cli_bad_input_gets_a_message_never_a_traceback(live, not_baton, tmp_path, closed_port):
    env, _port, _log = live
    rid = httpx.post(
        f"{env['BATON_URL']}/runs",
        json={"goal": "say [/x] and [bold]"},
        headers={"Authorization": f"Bearer {env['BATON_API_KEY']}"},
    ).json()["run_id"]
    closed = f"http://127.0.0.1:{closed_port}"
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    create = ("keys", "create", "--tenant", "a", "--user", "b")
    no_db = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port}/x"
    # fmt: off
    cases: list[tuple[tuple[str, ...], dict[str, str], int, str]] = [
        (("status", "run_nope"), {}, 1, "no run 'run_nope'"),
        (("status", ""), {}, 1, "give a run id"),
        (("status", "../../healthz"), {}, 1, "404"),
        (("logs", "run_nope", "--follow"), {}, 1, "no run 'run_nope'"),
        (("approve", "run_nope"), {}, 1, "no run"),
        (("approve", rid, "--approval", "a", "--args", "{not json"), {}, 1, "not JSON"),
        (("approve", rid, "--approval", "a", "--args", "NaN"), {}, 1, "NaN"),
        (("approve", rid, "--approval", "a", "--args", "[1, 2]"), {}, 1, "JSON object"),
        (("approve", rid, "--approval", "apr_nope"), {}, 1, "no approval"),
        (("run", "   ", "--no-follow"), {}, 1, "goal must not be empty"),
        (("keys", "create", "--tenant", "has space", "--user", "x"), {}, 1, "tenant must be"),
        (("keys", "create", "--tenant", "[/x]", "--user", "x"), {}, 1, "tenant must be"),
        (("status", rid), {"BATON_API_KEY": ""}, 2, "BATON_API_KEY"),
        (("status", rid), {"BATON_URL": closed}, 1, "cannot reach"),
        (("logs", rid, "--follow"), {"BATON_URL": closed}, 1, "event stream"),
        (("status", rid), {"BATON_URL": "http://[::1"}, 2, "not a valid URL"),
        (("status", "run_x"), {"BATON_URL": not_baton}, 1, "without JSON"),
        (("runs",), {"BATON_MAX_STEPS": "many"}, 2, "BATON_MAX_STEPS"),
        (("runs",), {"BATON_TOOL_APPROVAL_POLICY": "{bad"}, 2, "tool_approval_policy"),
        (create, {"BATON_DATABASE_URL": "nope"}, 2, "BATON_DATABASE_URL"),
        (create, {"BATON_DATABASE_URL": no_db}, 1, "cannot use the database"),
        (("serve",), {"BATON_DATA_DIR": str(a_file)}, 1, "exists"),
    ]
    # fmt: on
    with ThreadPoolExecutor(2) as pool:  # each `baton` spends about a second importing
        answers = list(pool.map(lambda case: baton(env, *case[0], **case[1]), cases))
    for (args, extra, code, words), r in zip(cases, answers, strict=True):
        said = " ".join(r.stderr.split())  # Rich wraps long lines
        assert r.returncode == code, (args, extra, r.returncode, r.stdout, r.stderr)
        assert words in said and "Traceback" not in r.stderr, (args, extra, r.stderr)

    # stored text that looks like Rich markup is printed as it is
    shown = baton(env, "status", rid)
    assert shown.returncode == 0 and rid in shown.stdout, shown.stderr
    listed = baton(env, "runs")
    assert "say [/x] and [bold]" in listed.stdout, (listed.stdout, listed.stderr)
