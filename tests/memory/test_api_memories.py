"""User controls over memory through the API: list, search, edit, pin, confirm, delete; and
bad or unauthorised requests get a clear 4xx and change nothing."""

from __future__ import annotations

from datetime import timedelta

from core.ids import utcnow
from tests.core.api_harness import api, auth
from tests.core.helpers import gate_with
from tests.memory.helpers import add_user, seed


def test_owner_lists_searches_edits_pins_and_deletes(engine):
    add_user(engine, "acme", "alice", ["team:eng"])
    coffee = seed(
        engine,
        "acme",
        "alice",
        "Drinks oat-milk flat white coffee.",
        memory_type="preference",
        expires_at=utcnow() + timedelta(days=3),
    )
    seed(engine, "acme", "alice", "Her dog is called Pixel.")
    shared = seed(
        engine,
        "acme",
        "carol",
        "The eng team deploys on Tuesdays.",
        scope="team",
        scope_ref="eng",
        memory_type="procedure",
    )
    seed(engine, "acme", "bob", "Bob drinks black coffee.")
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        listed = c.get("/memories", headers=h)
        assert listed.status_code == 200, listed.text
        rows = {m["memory_id"]: m for m in listed.json()}
        assert len(rows) == 3 and shared["memory_id"] in rows
        assert rows[shared["memory_id"]]["editable"] is False
        assert rows[coffee["memory_id"]]["source_run_id"] == "run_seed"

        found = c.get("/memories/search", params={"q": "what coffee do I like"}, headers=h).json()
        assert [m["memory_id"] for m in found] == [coffee["memory_id"]]
        assert found[0]["relevance"] > 0

        edited = c.patch(
            f"/memories/{coffee['memory_id']}",
            headers=h,
            json={"content": "Switched to green tea, no more coffee."},
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["confidence"] == 1.0
        found = c.get("/memories/search", params={"q": "green tea"}, headers=h).json()
        assert [m["content"] for m in found] == ["Switched to green tea, no more coffee."]

        pinned = c.put(f"/memories/{coffee['memory_id']}/pin", json={"pinned": True}, headers=h)
        assert pinned.json()["pinned"] is True and pinned.json()["expires_at"] is None
        assert c.get("/memories", headers=h).json()[0]["memory_id"] == coffee["memory_id"]

        gone = c.delete(f"/memories/{coffee['memory_id']}", headers=h)
        assert gone.status_code == 200 and gone.json()["deleted"] is True
        assert c.get(f"/memories/{coffee['memory_id']}", headers=h).status_code == 404
        assert c.get("/memories/search", params={"q": "green tea"}, headers=h).json() == []


def test_pending_memories_are_confirmed_or_rejected(engine):
    yes = seed(
        engine,
        "acme",
        "alice",
        "Prefers morning meetings.",
        status="pending",
        memory_type="preference",
    )
    no = seed(
        engine,
        "acme",
        "alice",
        "Prefers to be called Ally.",
        status="pending",
        memory_type="preference",
    )
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        pending = c.get("/memories", params={"status": "pending"}, headers=h).json()
        assert {m["memory_id"] for m in pending} == {yes["memory_id"], no["memory_id"]}
        assert c.get("/memories/search", params={"q": "meetings"}, headers=h).json() == []

        ok = c.post(f"/memories/{yes['memory_id']}/confirm", json={"accept": True}, headers=h)
        assert ok.status_code == 200 and ok.json()["status"] == "active"
        refused = c.post(f"/memories/{no['memory_id']}/confirm", json={"accept": False}, headers=h)
        assert refused.json() == {"memory_id": no["memory_id"], "deleted": True, "content": None}
        again = c.post(f"/memories/{yes['memory_id']}/confirm", json={"accept": True}, headers=h)
        assert again.status_code == 422 and "not waiting" in again.json()["detail"]
        found = c.get("/memories/search", params={"q": "when should meetings be"}, headers=h)
        assert [m["memory_id"] for m in found.json()] == [yes["memory_id"]]


def test_bad_and_unauthorised_requests_change_nothing(engine):
    add_user(engine, "acme", "alice", ["team:eng"])
    mine = seed(engine, "acme", "alice", "Her dog is called Pixel.")
    shared = seed(
        engine, "acme", "carol", "The eng team deploys on Tuesdays.", scope="team", scope_ref="eng"
    )
    with api(engine, gate_with()) as c:
        alice = auth(engine, "acme", "alice")
        bob = auth(engine, "acme", "bob")
        other_tenant = auth(engine, "globex", "alice")
        url = f"/memories/{mine['memory_id']}"
        cases = [
            (c.patch(url, json={"content": "x"}, headers=bob), 404),
            (c.delete(url, headers=other_tenant), 404),
            (
                c.patch(
                    f"/memories/{shared['memory_id']}", json={"content": "Fridays"}, headers=alice
                ),
                403,
            ),
            (c.delete(f"/memories/{shared['memory_id']}", headers=alice), 403),
            (c.patch(url, json={"content": "my password is hunter2"}, headers=alice), 422),
            (c.patch(url, json={"colour": "red"}, headers=alice), 422),
            (c.patch(url, json={}, headers=alice), 422),
            (c.patch(url, json={"type": "gossip"}, headers=alice), 422),
            (c.get("/memories", params={"status": "deleted"}, headers=alice), 422),
            (c.get("/memories/search", params={"q": ""}, headers=alice), 422),
            (c.post("/memories/forget-last-used", json={"run_id": "run_nope"}, headers=alice), 404),
            (c.get("/memories"), 401),
        ]
        for response, status in cases:
            assert response.status_code == status, (response.request.url, response.text)
            assert "detail" in response.json()
        after = c.get(url, headers=alice).json()
        assert after["content"] == "Her dog is called Pixel." and after["confidence"] == 0.8
        assert c.get(f"/memories/{shared['memory_id']}", headers=bob).status_code == 404
