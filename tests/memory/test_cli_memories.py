"""`baton memories` against a real `baton serve`, as a person would use it."""

from __future__ import annotations

import json

import pytest

from core.store.db import make_engine
from tests.core.test_cli import baton, server  # noqa: F401  (the fixture is used by name)
from tests.memory.helpers import seed


@pytest.mark.slow
def test_cli_lists_edits_pins_confirms_and_deletes(server):  # noqa: F811
    engine = make_engine(server["BATON_DATABASE_URL"])
    try:
        dog = seed(engine, "acme", "alice", "Her dog is called Pixel.")
        tea = seed(
            engine,
            "acme",
            "alice",
            "Prefers green tea.",
            status="pending",
            memory_type="preference",
        )
        seed(engine, "acme", "bob", "Bob's dog is called Rex.")
    finally:
        engine.dispose()
    made = baton(server, "keys", "create", "--tenant", "acme", "--user", "alice", "--json")
    key = json.loads(made.stdout)["key"]

    listed = json.loads(baton(server, "memories", "list", "--json", key=key).stdout)
    assert {m["memory_id"] for m in listed} == {dog["memory_id"], tea["memory_id"]}
    table = baton(server, "memories", "list", key=key)
    assert table.returncode == 0 and "Pixel" in table.stdout and "Rex" not in table.stdout

    assert baton(server, "memories", "confirm", tea["memory_id"], key=key).returncode == 0
    edited = baton(
        server,
        "memories",
        "edit",
        dog["memory_id"],
        "--content",
        "Her dog Pixel is a border collie.",
        "--json",
        key=key,
    )
    assert edited.returncode == 0, edited.stderr
    assert json.loads(edited.stdout)["content"] == "Her dog Pixel is a border collie."
    assert baton(server, "memories", "pin", dog["memory_id"], key=key).returncode == 0
    found = json.loads(
        baton(server, "memories", "search", "what breed is my dog", "--json", key=key).stdout
    )
    assert found[0]["memory_id"] == dog["memory_id"] and found[0]["pinned"] is True

    gone = baton(server, "memories", "delete", dog["memory_id"], "--yes", key=key)
    assert gone.returncode == 0, gone.stderr
    left = json.loads(baton(server, "memories", "list", "--json", key=key).stdout)
    assert [m["memory_id"] for m in left] == [tea["memory_id"]]

    for args, words in [
        (("memories", "show", dog["memory_id"]), "no memory"),
        (("memories", "edit", tea["memory_id"]), "nothing to change"),
        (("memories", "edit", tea["memory_id"], "--type", "gossip"), "type"),
        (("memories", "forget", "run_nope"), "no run"),
    ]:
        r = baton(server, *args, key=key)
        assert r.returncode != 0, (args, r.stdout)
        said = " ".join(r.stderr.split())  # rich wraps long lines
        assert words in said and "Traceback" not in said, (args, r.stderr)
