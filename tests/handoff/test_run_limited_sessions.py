"""A deep link's session sees its own run only, whatever Authorization header comes with it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from core.artifacts.service import create_artifact
from core.runs.service import RunStore
from handoff.config import get_handoff_settings
from handoff.links import deep_link
from handoff.web.session import COOKIE, CSRF_HEADER, signer
from tests.core.helpers import drive
from tests.handoff.conftest import app_routes, bearer, handoff_gate

# Authorization headers that are not an API key; a browser behind a proxy's basic auth sends
# the first one with every request.
MALFORMED = ["Basic YWxpY2U6eA==", "Bearer ", "x"]
SECRETS = ("hidden-goal-7f3a", "hidden-name-7f3a", "hidden-content-7f3a")
# The surfaces a web-view session reaches: the web view, artifacts, devices and the run API.
COVERED = ("/app", "/artifacts", "/devices", "/runs")


def _sign_in(client: Any, runtime: Any, run_id: str) -> str:
    s, hs = runtime.settings, get_handoff_settings()
    owner = {"tenant_id": "acme", "user_id": "ann"}
    link = deep_link(s, hs, signer(s, hs), owner, {"run_id": run_id})
    assert client.get(link.split("testserver", 1)[1], follow_redirects=False).status_code == 303
    return str(client.get("/app/api/me").json()["csrf"])


def _hidden_run(runtime: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Another run of the same user, waiting for an approval, with an artifact."""
    store = RunStore(runtime.engine, runtime.settings)
    script = [{"type": "tool_call", "tool": "email.send", "arguments": {"to": "b@example.com"}}]
    run = store.create_run("acme", "ann", SECRETS[0], meta={"script": script})
    drive(runtime.engine, handoff_gate(runtime.settings))
    approval = store.pending_approval("acme", "ann", run["run_id"])
    assert approval is not None
    art = create_artifact(
        runtime.engine, tenant_id="acme", user_id="ann", run_id=run["run_id"], name=SECRETS[1],
        content_type="text/plain", data=SECRETS[2].encode(), idempotency_key="hidden",
        settings=runtime.settings,
    )  # fmt: skip
    return run, art, approval


def _body(route: APIRoute, samples: dict[str, Any]) -> dict[str, Any] | None:
    field = route.body_field
    if field is None:
        return None
    model = field.field_info.annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        model = next(a for a in getattr(model, "__args__", ()) if isinstance(a, type))
    return {
        name: samples.get(name, "x")
        for name, info in model.model_fields.items()
        if name in samples or info.is_required()
    }


@pytest.mark.parametrize("authorization", MALFORMED)
def test_a_run_limited_session_reaches_no_other_run_on_any_route(
    app_client, runtime, authorization
):
    hidden, art, approval = _hidden_run(runtime)
    store = RunStore(runtime.engine, runtime.settings)
    mine = store.create_run("acme", "ann", "the linked run")
    csrf = _sign_in(app_client, runtime, mine["run_id"])
    before = len(store.events("acme", "ann", hidden["run_id"]))
    params = {"run_id": hidden["run_id"], "artifact_id": art["artifact_id"]}
    samples = {
        "text": "go on",
        "goal": "go on",
        "approval_id": approval["approval_id"],
        "decision": "approve",
    }
    routes = app_routes(app_client.app, COVERED)
    assert {"/app/api/runs", "/artifacts/{artifact_id}/content", "/runs/{run_id}/artifacts"} <= {
        route.path for _, route in routes
    }
    headers = {"Authorization": authorization, CSRF_HEADER: csrf}
    for method, route in routes:
        url = route.path.format(**{k: params.get(k, "x") for k in route.param_convertors})
        got = app_client.request(method, url, json=_body(route, samples), headers=headers)
        assert got.status_code < 500, (method, url, got.text)
        assert not any(secret in got.text for secret in SECRETS), (method, url, got.text)
        if got.is_success:
            assert hidden["run_id"] not in got.text, (method, url)
        if COOKIE not in app_client.cookies:  # signed out: sign in again for the next route
            csrf = _sign_in(app_client, runtime, mine["run_id"])
            headers[CSRF_HEADER] = csrf
    assert len(store.events("acme", "ann", hidden["run_id"])) == before
    assert store.pending_approval("acme", "ann", hidden["run_id"]) is not None


@pytest.mark.parametrize("authorization", MALFORMED)
def test_the_linked_run_still_opens_when_a_proxy_adds_an_authorization_header(
    app_client, runtime, authorization
):
    store = RunStore(runtime.engine, runtime.settings)
    mine = store.create_run("acme", "ann", "the linked run")
    csrf = _sign_in(app_client, runtime, mine["run_id"])
    headers = {"Authorization": authorization}
    listed = app_client.get("/app/api/runs", headers=headers).json()
    assert [r["run_id"] for r in listed] == [mine["run_id"]]
    view = app_client.get(f"/app/api/runs/{mine['run_id']}", headers=headers)
    assert view.status_code == 200 and view.json()["run"]["goal"] == "the linked run"
    cancelled = app_client.post(
        f"/app/api/runs/{mine['run_id']}/cancel", headers={**headers, CSRF_HEADER: csrf}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_an_api_key_sent_with_a_run_limited_cookie_covers_all_of_its_users_runs(
    app_client, runtime, api_key
):
    hidden, art, _ = _hidden_run(runtime)
    mine = RunStore(runtime.engine, runtime.settings).create_run("acme", "ann", "linked")
    _sign_in(app_client, runtime, mine["run_id"])
    key = bearer(api_key)
    listed = {r["run_id"] for r in app_client.get("/app/api/runs", headers=key).json()}
    assert listed == {mine["run_id"], hidden["run_id"]}
    content = app_client.get(f"/artifacts/{art['artifact_id']}/content", headers=key)
    assert content.status_code == 200 and content.text == SECRETS[2]
