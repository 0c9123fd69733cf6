"""The /contacts API and /me/preferences as their owner and as strangers use them, on SQLite
and Postgres: bad input gets a 4xx with a reason and changes nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from tests.core.api_harness import api, auth
from tests.core.helpers import gate_with

VCARDS = """BEGIN:VCARD
VERSION:3.0
FN:Alice Smith
N:Smith;Alice;;;
NICKNAME:Ally,Al
EMAIL;TYPE=INTERNET:alice@example.com
TEL;TYPE=CELL:+1 555 0100
END:VCARD
BEGIN:VCARD
VERSION:2.1
N:Wong;Alice
EMAIL;INTERNET:alice.w@example.com
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Bob Jones
EMAIL;PREF=1:bob@example.com
EMAIL:bob@home.example.com
END:VCARD
"""
VCARD = {"Content-Type": "text/vcard"}


def names(client: TestClient, headers: dict[str, str]) -> list[str]:
    listed = client.get("/contacts", headers=headers)
    assert listed.status_code == 200, listed.text
    return [c["name"] for c in listed.json()]


def add(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    made = client.post("/contacts", json=body, headers=headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_owner_adds_lists_reads_edits_and_deletes(engine):
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        bob = add(c, h, name="  Bob   Jones ", email="Bob@Example.com", aliases=["Bobby", " "])
        assert bob["name"] == "Bob Jones" and bob["aliases"] == ["Bobby"]
        assert bob["email"] == "Bob@example.com"  # the domain is case-insensitive
        add(c, h, name="Alice Smith", phone="+44 20 7946 0000")
        add(c, h, name="Дмитрий Иванов", email="dima@example.com")
        assert names(c, h) == ["Alice Smith", "Bob Jones", "Дмитрий Иванов"]

        got = c.get(f"/contacts/{bob['contact_id']}", headers=h)
        assert got.status_code == 200 and got.json() == bob

        edited = c.patch(
            f"/contacts/{bob['contact_id']}",
            json={"phone": "555 0199", "email": None, "aliases": ["Bobby", "Rob"]},
            headers=h,
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["email"] is None and edited.json()["phone"] == "555 0199"
        assert edited.json()["aliases"] == ["Bobby", "Rob"] and edited.json()["name"] == "Bob Jones"

        gone = c.delete(f"/contacts/{bob['contact_id']}", headers=h)
        assert gone.status_code == 200 and gone.json()["name"] == "Bob Jones"
        assert c.get(f"/contacts/{bob['contact_id']}", headers=h).status_code == 404
        assert names(c, h) == ["Alice Smith", "Дмитрий Иванов"]


def test_other_tenants_and_users_cannot_see_or_change_contacts(engine):
    with api(engine, gate_with()) as c:
        owner = auth(engine, "acme", "alice")
        secret = add(c, owner, name="Carol Diaz", email="carol@example.com")
        path = f"/contacts/{secret['contact_id']}"
        for stranger in (auth(engine, "acme", "bob"), auth(engine, "globex", "alice")):
            assert names(c, stranger) == []
            assert c.get(path, headers=stranger).status_code == 404
            assert c.patch(path, json={"name": "Mallory"}, headers=stranger).status_code == 404
            assert c.delete(path, headers=stranger).status_code == 404
            # The same address in someone else's book is no conflict.
            add(c, stranger, name="Carol D", email="carol@example.com")
        assert c.get(path, headers=owner).json() == secret
        assert c.get("/contacts", headers={}).status_code == 401


def test_idempotency_key_replays_the_same_contact(engine):
    with api(engine, gate_with()) as c:
        h = {**auth(engine, "acme", "alice"), "Idempotency-Key": "add-dana-1"}
        first = c.post("/contacts", json={"name": "Dana Lee"}, headers=h)
        again = c.post("/contacts", json={"name": "Dana Lee"}, headers=h)
        assert first.status_code == 201 and again.status_code == 200
        assert again.json() == first.json()
        other = c.post("/contacts", json={"name": "Eve Adams"}, headers=h)
        assert other.status_code == 409
        assert names(c, h) == ["Dana Lee"]


def test_concurrent_adds_with_one_idempotency_key_make_one_contact(engine):
    with api(engine, gate_with()) as c:
        h = {**auth(engine, "acme", "alice"), "Idempotency-Key": "race-1"}
        n = 8
        start = threading.Barrier(n)

        def post(_: int) -> Any:
            start.wait()
            return c.post("/contacts", json={"name": "Dana Lee"}, headers=h)

        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(post, range(n)))
        assert sorted(r.status_code for r in answers) == [200] * (n - 1) + [201], [
            r.text for r in answers
        ]
        assert len({r.json()["contact_id"] for r in answers}) == 1
        assert names(c, h) == ["Dana Lee"]


def test_bad_contacts_get_a_reason_and_change_nothing(engine):
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        alice = add(c, h, name="Alice Smith", email="alice@example.com")
        cases = [
            ({"name": ""}, 422),
            ({"name": "  ...  "}, 422),
            ({"name": "x" * 201}, 422),
            ({"name": "Zed", "email": "not an address"}, 422),
            ({"name": "Zed", "phone": "call me maybe"}, 422),
            ({"name": "Zed", "aliases": ["a"] * 21}, 422),
            ({"name": "Zed", "unknown": 1}, 422),
            ({"name": "Zed\u0000"}, 422),
            ({"name": "Zed", "email": "ALICE@example.com"}, 409),
        ]
        for body, status in cases:
            refused = c.post("/contacts", json=body, headers=h)
            assert refused.status_code == status, (body, refused.text)
            assert refused.json()["detail"], body
        assert c.post("/contacts", content=b"{", headers=h).status_code in (400, 415, 422)
        bad_edit = c.patch(f"/contacts/{alice['contact_id']}", json={"email": "x@"}, headers=h)
        assert bad_edit.status_code == 422 and "not an email address" in bad_edit.text
        assert names(c, h) == ["Alice Smith"]
        assert c.get(f"/contacts/{alice['contact_id']}", headers=h).json() == alice


def test_vcard_import_adds_then_updates_by_email(engine):
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        add(c, h, name="Robert Jones", email="BOB@example.com", phone="555 0101")
        imported = c.post("/contacts/import", content=VCARDS.encode(), headers={**h, **VCARD})
        assert imported.status_code == 200, imported.text
        report = imported.json()
        assert sorted(x["name"] for x in report["created"]) == ["Alice Smith", "Alice Wong"]
        assert [x["name"] for x in report["updated"]] == ["Bob Jones"]
        assert report["updated"][0]["phone"] == "555 0101"  # kept: the card has none
        smith = next(x for x in report["created"] if x["name"] == "Alice Smith")
        assert smith["aliases"] == ["Ally", "Al"] and smith["phone"] == "+1 555 0100"
        assert names(c, h) == ["Alice Smith", "Alice Wong", "Bob Jones"]

        again = c.post("/contacts/import", content=VCARDS.encode(), headers={**h, **VCARD})
        assert again.status_code == 200 and again.json() == {"created": [], "updated": []}
        assert names(c, h) == ["Alice Smith", "Alice Wong", "Bob Jones"]


def test_bad_vcards_are_refused_with_a_reason(engine):
    with api(engine, gate_with()) as c:
        h = auth(engine, "acme", "alice")
        add(c, h, name="Alice Smith")
        bad_email = VCARDS.replace("alice.w@example.com", "alice.w@")
        cases = [
            (b"hello", VCARD, 400, "not a readable vCard"),
            (b"BEGIN:VCARD\nFN:Half\n", VCARD, 400, "never closed"),
            (b"BEGIN:VCALENDAR\nEND:VCALENDAR\n", VCARD, 400, "not a vCard"),
            (b"BEGIN:VCARD\nVERSION:3.0\nTEL:1234\nEND:VCARD\n", VCARD, 400, "no name"),
            (b"\xff\xfeBEGIN", VCARD, 400, "UTF-8"),
            (b"BEGIN:VCARD\nFN:A\x00B\nEND:VCARD\n", VCARD, 400, "NUL"),
            (bad_email.encode(), VCARD, 422, "card 2"),
            (VCARDS.encode(), {"Content-Type": "text/plain"}, 415, "text/vcard"),
        ]
        for body, headers, status, reason in cases:
            refused = c.post("/contacts/import", content=body, headers={**h, **headers})
            assert refused.status_code == status, (body, refused.text)
            assert reason in refused.json()["detail"], refused.text
        assert names(c, h) == ["Alice Smith"]


def test_time_zone_preference_defaults_validates_and_is_per_user(engine):
    with api(engine, gate_with(), calendar_timezone="America/New_York") as c:
        alice, bob = auth(engine, "acme", "alice"), auth(engine, "acme", "bob")
        default = {"timezone": "America/New_York", "timezone_is_default": True}
        assert c.get("/me/preferences", headers=alice).json() == default

        put = c.put("/me/preferences", json={"timezone": "Europe/Paris"}, headers=alice)
        assert put.status_code == 200, put.text
        assert put.json() == {"timezone": "Europe/Paris", "timezone_is_default": False}
        assert c.put("/me/preferences", json={"timezone": "Europe/Paris"}, headers=alice).is_success
        assert c.get("/me/preferences", headers=alice).json()["timezone"] == "Europe/Paris"
        assert c.get("/me/preferences", headers=bob).json() == default

        for bad in ("Mars/Olympus", "", "../../etc/passwd", "Europe/", "UTC+2"):
            refused = c.put("/me/preferences", json={"timezone": bad}, headers=alice)
            assert refused.status_code == 422, (bad, refused.text)
            assert "IANA time zone" in refused.text or refused.json()["detail"], bad
        assert c.get("/me/preferences", headers=alice).json()["timezone"] == "Europe/Paris"

        cleared = c.put("/me/preferences", json={"timezone": None}, headers=alice)
        assert cleared.json() == default
