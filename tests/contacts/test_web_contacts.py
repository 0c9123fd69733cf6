"""The companion web view's contacts page: served to a signed-in person, who sees their own
contacts; a deep-link session (limited to one run) does not open the address book."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core.agent.scripted import ScriptedAgent
from core.api.app import create_app
from core.auth.keys import create_key
from core.config import Settings
from core.contacts.service import ContactDraft, create_contact
from core.runtime import Runtime, set_runtime
from core.store.db import make_engine
from handoff.config import HandoffSettings, get_handoff_settings, set_handoff_settings
from handoff.web.session import COOKIE, issue_session
from tests.contacts.serving import serve
from tests.core.helpers import gate_with

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = REPO / "tests" / "browser" / "node_modules" / "playwright-core"
SECRET = "test-handoff-secret-0123456789abcdef"


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
    set_handoff_settings(HandoffSettings(handoff_secret=SECRET))
    try:
        yield TestClient(create_app(s), base_url="http://testserver"), s
    finally:
        set_handoff_settings(None)
        set_runtime(None)


def add(engine: Engine, tenant: str, user: str, name: str, email: str | None = None) -> None:
    with engine.begin() as conn:
        create_contact(conn, tenant, user, ContactDraft(name, email))


def test_signed_in_person_sees_their_contacts_page(web, engine):
    client, _ = web
    add(engine, "acme", "alice", "Bob Jones", "bob@example.com")
    add(engine, "acme", "alice", "Alice Smith")
    add(engine, "acme", "carol", "Mallory Secret")
    page = client.get("/app/contacts")
    assert page.status_code == 200 and "app.js" in page.text
    assert 'href="/app/contacts"' in client.get("/app/").text
    assert "renderContacts" in client.get("/app/static/app.js").text

    assert client.get("/contacts").status_code == 401
    signed = client.post("/app/api/session", json={"api_key": create_key(engine, "acme", "alice")})
    assert signed.status_code == 200, signed.text
    listed = client.get("/contacts")
    assert listed.status_code == 200, listed.text
    assert [c["name"] for c in listed.json()] == ["Alice Smith", "Bob Jones"]
    # A cookie alone cannot change the address book: changes need the page's CSRF header.
    assert client.post("/contacts", json={"name": "Eve"}).status_code == 401


def test_a_deep_link_session_does_not_open_the_address_book(web, engine):
    client, settings = web
    add(engine, "acme", "alice", "Bob Jones", "bob@example.com")
    session = issue_session(settings, get_handoff_settings(), "acme", "alice", ["run_pushed"])
    client.cookies.set(COOKIE, session)
    assert client.get("/app/api/me").json()["runs"] == ["run_pushed"]
    assert client.get("/contacts").status_code == 401


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """One SQLite store: what the page shows does not depend on the database."""
    path = tmp_path / "baton.db"
    shutil.copy(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    try:
        yield eng
    finally:
        eng.dispose()


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    if shutil.which("node") is None:
        return "node is missing (apt-get install -y nodejs npm)"
    if not PLAYWRIGHT.is_dir():
        return "playwright-core is not installed (npm ci --prefix tests/browser)"
    return None


@pytest.mark.slow
def test_the_contacts_page_lists_them_in_a_real_browser(sqlite_engine, tmp_path):
    missing = _browser_missing()
    if missing:
        print(f"\nSKIP browser test: {missing}")
        pytest.skip(missing)
    add(sqlite_engine, "acme", "alice", "Bob Jones", "bob@example.com")
    add(sqlite_engine, "acme", "alice", "<b>Eve</b> O'Hara")
    add(sqlite_engine, "acme", "carol", "Mallory Secret", "mallory@example.com")
    with sqlite_engine.begin() as conn:
        create_contact(
            conn, "acme", "alice", ContactDraft("Alice Smith", None, "+1 555 0100", ("Ally",))
        )
    s = Settings(data_dir=tmp_path / "data", plugins="handoff", agent="scripted")
    set_handoff_settings(HandoffSettings(handoff_secret=SECRET))
    try:
        with serve(sqlite_engine, s) as base:
            config = {
                "base": base,
                "key": create_key(sqlite_engine, "acme", "alice"),
                "chromium": CHROMIUM,
                "shot": str(tmp_path / "contacts.png"),
            }
            done = subprocess.run(
                ["node", str(Path(__file__).with_name("contacts_page.mjs")), json.dumps(config)],
                capture_output=True,
                text=True,
                timeout=120,
            )
    finally:
        set_handoff_settings(None)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["url"] == f"{base}/app/contacts" and seen["heading"] == "Your contacts"
    assert [c["name"] for c in seen["contacts"]] == [
        "<b>Eve</b> O'Hara",
        "Alice Smith",
        "Bob Jones",
    ]
    _eve, alice, bob = seen["contacts"]
    assert bob["links"] == ["mailto:bob@example.com"]
    assert alice["links"] == ["tel:+1 555 0100"] and "Also: Ally" in alice["text"]
    assert seen["errors"] == []
