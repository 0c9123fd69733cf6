"""Devices, deep-link and API-key sign-in, and what a web-view session may see and do."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from core.artifacts.service import create_artifact
from core.auth.keys import create_key, revoke_key
from core.runs.service import RunStore
from handoff.config import get_handoff_settings, set_handoff_settings
from handoff.links import deep_link
from handoff.push.vapid import create_vapid_key
from handoff.signing import LINK
from handoff.web.session import COOKIE, CSRF_HEADER, signer
from tests.handoff.conftest import bearer

REPORT = (
    "# Flights to Oslo\n\nCheapest first.\n\n| flight | price |\n|---|---|\n"
    "| SK 4101 | 120 EUR |\n| DY 1302 | 135 EUR |\n\n"
    "<script>alert('x')</script> [bad](javascript:alert(1))\n"
)


def _run_with_artifact(runtime, goal="find flights to Oslo"):
    store = RunStore(runtime.engine, runtime.settings)
    run = store.create_run("acme", "ann", goal)
    art = create_artifact(
        runtime.engine, tenant_id="acme", user_id="ann", run_id=run["run_id"], name="Flights",
        content_type="text/markdown", data=REPORT.encode(), idempotency_key=f"r-{run['run_id']}",
        settings=runtime.settings,
    )  # fmt: skip
    return run, art


def _link(runtime, run_id, focus=None, ttl=None):
    s, hs = runtime.settings, get_handoff_settings()
    if ttl is not None:
        hs = hs.model_copy(update={"link_ttl_seconds": ttl})
    owner = {"tenant_id": "acme", "user_id": "ann"}
    return deep_link(s, hs, signer(s, hs), owner, {"run_id": run_id, "artifact_id": focus})


def _open(client, link):
    parts = urlsplit(link)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def _csrf(client):
    return {CSRF_HEADER: client.get("/app/api/me").json()["csrf"]}


def test_devices_are_registered_listed_and_removed(app_client, api_key, runtime):
    key = bearer(api_key)
    assert app_client.post("/devices", json={"token": "t1"}).status_code == 401
    made = app_client.post("/devices", json={"token": "fcm-abc", "label": "Pixel"}, headers=key)
    assert made.status_code == 201 and made.json()["kind"] == "fcm"
    assert app_client.post("/devices", json={"token": "fcm-abc"}, headers=key).status_code == 200
    sub = {
        "endpoint": "https://push.example.com/send/abc",
        "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
    }
    web = app_client.post("/devices", json={"subscription": sub}, headers=key)
    assert web.status_code == 201 and web.json()["kind"] == "webpush"
    listed = app_client.get("/devices", headers=key).json()
    assert [d["kind"] for d in listed] == ["fcm", "webpush"]
    assert all(d["address_hint"].startswith("…") for d in listed)

    bad = [
        ({}, "either 'token'"),
        ({"token": "a", "subscription": sub}, "either 'token'"),
        ({"token": "has space"}, "without spaces"),
        ({"subscription": {**sub, "keys": {"p256dh": "AAAA", "auth": "A" * 22}}}, "p256dh"),
        ({"subscription": {**sub, "endpoint": "ftp://x/y"}}, "https URL"),
        ({"kind": "fcm", "subscription": sub}, "Web Push"),
    ]
    for body, reason in bad:
        got = app_client.post("/devices", json=body, headers=key)
        assert got.status_code == 422 and reason in got.text, (body, got.text)

    other = bearer(create_key(runtime.engine, "acme", "bob"))
    assert (
        app_client.delete(f"/devices/{made.json()['device_id']}", headers=other).status_code == 404
    )
    assert app_client.delete(f"/devices/{made.json()['device_id']}", headers=key).status_code == 204
    gone = app_client.request("DELETE", "/devices", json={"endpoint": sub["endpoint"]}, headers=key)
    assert gone.status_code == 204
    assert app_client.get("/devices", headers=key).json() == []
    assert (
        app_client.request("DELETE", "/devices", json={"token": "nope"}, headers=key).status_code
        == 404
    )


def test_plain_http_push_endpoints_need_an_explicit_setting(app_client, api_key, handoff_settings):
    set_handoff_settings(handoff_settings.model_copy(update={"webpush_allow_http": False}))
    sub = {"endpoint": "http://10.0.0.5/push", "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22}}
    got = app_client.post("/devices", json={"subscription": sub}, headers=bearer(api_key))
    assert got.status_code == 422 and "must be https" in got.text


def test_webpush_key_is_published_once_created(app_client, runtime):
    assert app_client.get("/devices/webpush-key").status_code == 404
    public = create_vapid_key(runtime.settings.data_dir / "vapid_private.pem")
    assert app_client.get("/devices/webpush-key").json() == {"public_key": public}


def test_a_deep_link_signs_in_to_its_run_and_shows_the_artifact(app_client, runtime):
    run, art = _run_with_artifact(runtime)
    other, _ = _run_with_artifact(runtime, goal="another run")
    link = _link(runtime, run["run_id"], art["artifact_id"])
    opened = _open(app_client, link)
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/app/runs/{run['run_id']}#{art['artifact_id']}"
    assert COOKIE in opened.cookies
    assert "bk_" not in link and "key" not in parse_qs(urlsplit(link).query)

    page = app_client.get(f"/app/runs/{run['run_id']}")
    assert (
        page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    )
    view = app_client.get(f"/app/api/runs/{run['run_id']}").json()
    assert view["run"]["goal"] == "find flights to Oslo"
    (shown,) = view["artifacts"]
    assert "<table>" in shown["html"] and "SK 4101" in shown["html"]
    assert "<script" not in shown["html"] and "alert" not in shown["html"]
    assert 'href="javascript' not in shown["html"]
    assert [t["type"] for t in view["timeline"]][:2] == ["RunCreated", "ArtifactCreated"]
    assert view["actions"]["cancel"] and view["actions"]["call_url"].endswith(run["run_id"])

    content = app_client.get(shown["download_url"])
    assert content.content == REPORT.encode()
    assert content.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in content.headers["content-security-policy"]
    assert content.headers["x-content-type-options"] == "nosniff"
    # The same session through the core run API: this run yes, anything else no.
    assert app_client.get(f"/runs/{run['run_id']}").json()["status"] == "queued"
    assert app_client.get(f"/runs/{other['run_id']}").status_code == 401
    assert app_client.get("/runs").status_code == 401
    assert app_client.get(f"/app/api/runs/{other['run_id']}").status_code == 401
    assert [r["run_id"] for r in app_client.get("/app/api/runs").json()] == [run["run_id"]]
    stream = app_client.get(
        f"/runs/{run['run_id']}/events?follow=false", headers={"Accept": "text/event-stream"}
    )
    assert "event: ArtifactCreated" in stream.text and "id: 2" in stream.text


def test_expired_or_tampered_links_are_refused(app_client, runtime):
    run, _art = _run_with_artifact(runtime)
    expired = _link(runtime, run["run_id"], ttl=-1)
    got = _open(app_client, expired)
    assert got.status_code == 403 and "expired" in got.text and COOKIE not in got.cookies
    good = _link(runtime, run["run_id"])
    token = parse_qs(urlsplit(good).query)["t"][0]
    body, mac = token.split(".")
    signs = signer(runtime.settings, get_handoff_settings())
    swapped = signs.issue(LINK, "acme", "mallory", 60, runs=[run["run_id"]])
    for forged in (body + "." + mac[::-1], swapped.split(".")[0] + "." + mac, "garbage"):
        got = app_client.get("/app/link", params={"t": forged}, follow_redirects=False)
        assert got.status_code == 403 and COOKIE not in got.cookies, forged
    assert app_client.get("/app/api/me").status_code == 401
    # A session cookie cannot be replayed as a link.
    _open(app_client, good)
    session = app_client.cookies[COOKIE]
    assert (
        app_client.get("/app/link", params={"t": session}, follow_redirects=False).status_code
        == 403
    )


def test_changes_need_the_csrf_header(app_client, runtime):
    run, _ = _run_with_artifact(runtime)
    _open(app_client, _link(runtime, run["run_id"]))
    assert app_client.post(f"/app/api/runs/{run['run_id']}/cancel").status_code == 401
    assert app_client.post(f"/runs/{run['run_id']}/cancel", json={}).status_code == 401
    assert app_client.get(f"/runs/{run['run_id']}").json()["status"] == "queued"
    ok = app_client.post(f"/app/api/runs/{run['run_id']}/cancel", headers=_csrf(app_client))
    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"
    events = RunStore(runtime.engine, runtime.settings).events("acme", "ann", run["run_id"])
    assert events[-1]["type"] == "RunCancelled" and events[-1]["data"]["channel"] == "web"


def test_artifacts_over_the_api_are_scoped(app_client, api_key, runtime):
    run, art = _run_with_artifact(runtime)
    listed = app_client.get(f"/runs/{run['run_id']}/artifacts", headers=bearer(api_key)).json()
    assert [(a["artifact_id"], a["size_bytes"]) for a in listed] == [
        (art["artifact_id"], len(REPORT.encode()))
    ]
    bob = bearer(create_key(runtime.engine, "acme", "bob"))
    assert app_client.get(f"/runs/{run['run_id']}/artifacts", headers=bob).status_code == 404
    assert app_client.get(f"/artifacts/{art['artifact_id']}", headers=bob).status_code == 404
    got = app_client.get(f"/artifacts/{art['artifact_id']}/content", headers=bearer(api_key))
    assert got.content == REPORT.encode() and got.headers["etag"] == f'"{art["checksum"]}"'


def test_api_key_sign_in_covers_all_runs_until_the_key_is_revoked(app_client, api_key, runtime):
    first, _ = _run_with_artifact(runtime)
    second, _ = _run_with_artifact(runtime, goal="second")
    assert app_client.post("/app/api/session", json={"api_key": "bk_nope"}).status_code == 401
    signed = app_client.post("/app/api/session", json={"api_key": api_key})
    assert signed.status_code == 200 and signed.json() == {"tenant_id": "acme", "user_id": "ann"}
    listed = {r["run_id"] for r in app_client.get("/app/api/runs").json()}
    assert listed == {first["run_id"], second["run_id"]}
    me = app_client.get("/app/api/me").json()
    assert me["runs"] is None and me["expires_at"] > time.time()
    revoke_key(runtime.engine, "acme", api_key.split("_")[1])
    assert app_client.get("/app/api/me").status_code == 401
    assert app_client.get("/app/api/runs").status_code == 401


def test_the_app_shell_and_service_worker_are_served(app_client):
    assert "app.js" in app_client.get("/app/").text
    sw = app_client.get("/app/sw.js")
    assert sw.headers["service-worker-allowed"] == "/app/" and "showNotification" in sw.text
    assert "EventSource" in app_client.get("/app/static/app.js").text


def test_opening_more_links_widens_a_session_and_never_narrows_a_full_one(
    app_client, api_key, runtime
):
    first, _ = _run_with_artifact(runtime)
    second, _ = _run_with_artifact(runtime, goal="second")
    _open(app_client, _link(runtime, first["run_id"]))
    csrf = app_client.get("/app/api/me").json()["csrf"]
    _open(app_client, _link(runtime, second["run_id"]))
    me = app_client.get("/app/api/me").json()
    assert me["runs"] == [first["run_id"], second["run_id"]] and me["csrf"] == csrf
    app_client.post("/app/api/session", json={"api_key": api_key})
    full_csrf = app_client.get("/app/api/me").json()["csrf"]
    assert _open(app_client, _link(runtime, first["run_id"])).status_code == 303
    me = app_client.get("/app/api/me").json()
    assert me["runs"] is None and me["csrf"] == full_csrf
    # Still bound to the API key: revoking it ends the session.
    revoke_key(runtime.engine, "acme", api_key.split("_")[1])
    assert app_client.get("/app/api/me").status_code == 401
