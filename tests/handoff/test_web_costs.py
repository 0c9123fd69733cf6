"""The web view's costs page: a signed-in person sees their own model spend on a page rendered
by the server; a deep link or no sign-in leads to the sign-in page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from core.agent.scripted import ScriptedAgent
from core.api.app import create_app
from core.auth.keys import create_key
from core.config import Settings
from core.runtime import Runtime, set_runtime
from core.store.model_calls import MODEL_CALLS
from handoff.config import HandoffSettings, get_handoff_settings, set_handoff_settings
from handoff.web.session import COOKIE, issue_session
from tests.core.helpers import gate_with

NOW = datetime.now(UTC)


def _call(tenant: str, user: str, run: str, model: str, cost: float, age: timedelta) -> Any:
    return {
        "tenant_id": tenant,
        "user_id": user,
        "run_id": run,
        "step": 0,
        "task_type": "decision",
        "model": model,
        "model_name": None,
        "status": "ok",
        "attempt": 1,
        "input_tokens": 40,
        "output_tokens": 2,
        "latency_ms": 3.0,
        "cost_usd": cost,
        "created_at": NOW - age,
    }


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    """The real app with the handoff plugin, without its lifespan (no workers)."""
    s = Settings(
        data_dir=tmp_path / "data",
        public_url="http://testserver",
        plugins="handoff",
        agent="scripted",
    )
    gate = gate_with()
    set_runtime(Runtime(s, engine, lambda: gate, ScriptedAgent))
    set_handoff_settings(HandoffSettings(handoff_secret="test-handoff-secret-0123456789abcdef"))
    with engine.begin() as conn:
        conn.execute(
            insert(MODEL_CALLS),
            [
                _call("acme", "alice", "run_a1", "openai/gpt-4o", 1.25, timedelta(hours=1)),
                _call("acme", "alice", "run_a2", "<b>odd</b>", 0.5, timedelta(days=3)),
                _call("acme", "carol", "run_c1", "openai/secret-model", 9.0, timedelta(hours=1)),
            ],
        )
    try:
        yield TestClient(create_app(s), base_url="http://testserver"), s
    finally:
        set_handoff_settings(None)
        set_runtime(None)


def test_a_signed_in_person_sees_their_spend(web, engine):
    client, _ = web
    unsigned = client.get("/app/costs", follow_redirects=False)
    assert unsigned.status_code == 303 and unsigned.headers["location"] == "/app/"
    signed = client.post("/app/api/session", json={"api_key": create_key(engine, "acme", "alice")})
    assert signed.status_code == 200, signed.text

    page = client.get("/app/costs")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "$1.7500" in page.text and "2 model calls" in page.text
    assert "openai/gpt-4o" in page.text
    assert "&lt;b&gt;odd&lt;/b&gt;" in page.text and "<b>odd</b>" not in page.text
    assert "secret-model" not in page.text  # carol's spend

    day = client.get("/app/costs", params={"days": 1, "group_by": "run"})
    assert 'href="/app/runs/run_a1"' in day.text and "run_a2" not in day.text
    assert client.get("/app/costs", params={"days": 0}).status_code == 422
    assert 'href="/app/costs"' in client.get("/app/").text


def test_a_deep_link_session_is_sent_to_sign_in(web):
    client, settings = web
    session = issue_session(settings, get_handoff_settings(), "acme", "alice", ["run_a1"])
    client.cookies.set(COOKIE, session)
    page = client.get("/app/costs", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/app/"
