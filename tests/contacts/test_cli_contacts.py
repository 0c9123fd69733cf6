"""`baton contacts` against a real HTTP server on the test database, as a person would use it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from core.auth.keys import create_key
from core.cli.main import app as baton
from core.config import Settings, get_settings
from tests.contacts.serving import serve
from tests.contacts.test_api_contacts import VCARDS


@pytest.fixture
def server_url(engine: Engine) -> Iterator[str]:
    with serve(engine, Settings(plugins="none", agent="scripted")) as url:
        yield url


@pytest.fixture
def cli(
    server_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CliRunner, dict[str, str]]]:
    """A runner and the environment of a user (alice at acme) with an API key."""
    env = {"BATON_URL": server_url, "BATON_API_KEY": create_key(engine, "acme", "alice")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        yield CliRunner(), env
    finally:
        get_settings.cache_clear()


def run(cli: tuple[CliRunner, dict[str, str]], *args: str) -> Result:
    runner, env = cli
    return runner.invoke(baton, ["contacts", *args], env=env)


def listed(cli: tuple[CliRunner, dict[str, str]]) -> list[dict[str, object]]:
    shown = run(cli, "list", "--json")
    assert shown.exit_code == 0, shown.output
    return list(json.loads(shown.stdout))


def test_add_list_import_and_remove(cli, server_url, engine, tmp_path: Path):
    assert run(cli, "list").stdout.strip() == "No contacts."
    added = run(cli, "add", "Robert Jones", "--email", "bob@example.com", "--alias", "Bob")
    assert added.exit_code == 0, added.output
    assert "added Robert Jones" in added.stdout

    cards = tmp_path / "phone.vcf"
    cards.write_text(VCARDS)
    imported = run(cli, "import", str(cards))
    assert imported.exit_code == 0, imported.output
    assert "added 2, updated 1" in imported.stdout
    assert [c["name"] for c in listed(cli)] == ["Alice Smith", "Alice Wong", "Bob Jones"]
    table = run(cli, "list")
    assert "alice@example.com" in table.stdout and "Ally, Al" in table.stdout

    removed = run(cli, "remove", "alice wong", "--yes")
    assert removed.exit_code == 0, removed.output
    smith = next(c for c in listed(cli) if c["name"] == "Alice Smith")
    assert run(cli, "remove", str(smith["contact_id"]), "--yes").exit_code == 0
    assert [c["name"] for c in listed(cli)] == ["Bob Jones"]

    # Another user sees none of it.
    other = {"Authorization": f"Bearer {create_key(engine, 'acme', 'bob')}"}
    assert httpx.get(f"{server_url}/contacts", headers=other).json() == []


def test_mistakes_get_a_message_and_a_non_zero_exit(cli, tmp_path: Path):
    assert run(cli, "add", "Dana Lee", "--email", "dana@example.com").exit_code == 0
    twin = run(cli, "add", "Dana Lee", "--email", "dana2@example.com")
    assert twin.exit_code == 0, twin.output
    bad = tmp_path / "bad.vcf"
    bad.write_text("this is not a vCard")
    for args, words in [
        (("add", "Eve", "--email", "not-an-address"), "not an email address"),
        (("add", "Eve", "--email", "DANA@example.com"), "already has the address"),
        (("add", "   "), "name"),
        (("remove", "Nobody Here", "--yes"), "no contact"),
        (("remove", "dana lee", "--yes"), "2 contacts are called"),
        (("import", str(tmp_path / "missing.vcf")), "cannot read"),
        (("import", str(bad)), "not a readable vCard"),
    ]:
        result = run(cli, *args)
        assert result.exit_code != 0, (args, result.output)
        said = " ".join(result.stderr.split())  # rich wraps long lines
        assert words in said and "Traceback" not in said, (args, result.stderr)
    assert [c["name"] for c in listed(cli)] == ["Dana Lee", "Dana Lee"]
