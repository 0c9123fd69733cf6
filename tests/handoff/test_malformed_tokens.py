"""Broken link tokens and session cookies are refused tokens: 403 or no sign-in, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.runs.service import RunStore
from handoff.config import get_handoff_settings
from handoff.links import deep_link
from handoff.signing import LINK, SESSION, BadToken, Signer, _b64
from handoff.web.session import COOKIE, signer
from tests.handoff.conftest import SECRET, app_routes, bearer


def _token(runtime: Any, run_id: str) -> str:
    s, hs = runtime.settings, get_handoff_settings()
    owner = {"tenant_id": "acme", "user_id": "ann"}
    link = deep_link(s, hs, signer(s, hs), owner, {"run_id": run_id})
    return parse_qs(urlsplit(link).query)["t"][0]


def _forgeries(token: str) -> list[str]:
    body, mac = token.split(".")
    return [
        f"{body}.é{mac}",
        f"é{body}.{mac}",
        f"{body}.{mac[:-1]}é",
        "é.é",
        "\U0001f600.abc",
        ".",
        f"{body}.",
        f".{mac}",
    ]


def test_links_with_any_characters_are_refused_with_403(app_client, runtime):
    run = RunStore(runtime.engine, runtime.settings).create_run("acme", "ann", "a run")
    token = _token(runtime, run["run_id"])
    body, mac = token.split(".")
    raw = [f"{body}.%C3%A9{mac}", f"%C3%A9{body}.{mac}", f"{body}.{mac}%FF"]
    for query in raw:
        got = app_client.get(f"/app/link?t={query}", follow_redirects=False)
        assert got.status_code == 403 and COOKIE not in got.cookies, (query, got.text)
    for forged in _forgeries(token):
        got = app_client.get("/app/link", params={"t": forged}, follow_redirects=False)
        assert got.status_code == 403 and COOKIE not in got.cookies, (forged, got.text)


def test_a_well_signed_token_with_an_odd_payload_is_refused():
    sign = Signer(SECRET.encode())
    for payload in (
        b"[]",
        b"null",
        b'{"p": "link"}',
        b'{"p":"link","t":1,"u":"a","e":"x"}',
        b"\xff",
    ):
        body = _b64(payload)
        with pytest.raises(BadToken):
            sign.verify(f"{body}.{sign._mac(body).decode()}", LINK)


@pytest.mark.parametrize("cookie", [b"\xe9x.abc", b"x.\xe9", "é.é".encode(), b"\xff\xfe"])
def test_a_broken_session_cookie_counts_as_no_sign_in_on_every_route(
    app_client, runtime, api_key, cookie
):
    run = RunStore(runtime.engine, runtime.settings).create_run("acme", "ann", "a run")
    header = {"cookie": COOKIE.encode() + b"=" + cookie}
    for method, route in app_routes(app_client.app, ("/app", "/artifacts", "/runs", "/devices")):
        url = route.path.format(**{name: "x" for name in route.param_convertors})
        got = app_client.request(method, url, headers=header)
        assert got.status_code < 500, (method, url, got.text)
        with_key = app_client.request(method, url, headers={**header, **bearer(api_key)})
        assert with_key.status_code < 500, (method, url, with_key.text)
    assert app_client.get("/app/api/me", headers=header).status_code == 401
    assert app_client.get("/app/api/runs", headers=header).status_code == 401
    listed = app_client.get("/app/api/runs", headers={**header, **bearer(api_key)})
    assert [r["run_id"] for r in listed.json()] == [run["run_id"]]
    view = app_client.get(f"/app/api/runs/{run['run_id']}", headers={**header, **bearer(api_key)})
    assert view.status_code == 200


def test_a_session_token_with_any_characters_is_refused():
    sign = Signer(SECRET.encode())
    good = sign.issue(SESSION, "acme", "ann", 60)
    for forged in [*_forgeries(good), good.replace(".", "\x00.")]:
        with pytest.raises(BadToken):
            sign.verify(forged, SESSION)
    assert sign.verify(good, SESSION).user_id == "ann"
