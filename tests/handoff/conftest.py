"""Fixtures for handoff tests: settings on a temp data dir, the local push services, the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import firebase_admin
import pytest
import requests
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from firebase_admin import messaging
from sqlalchemy import Engine

from core.agent.scripted import ScriptedAgent
from core.artifacts.tool import save_artifact_tool
from core.auth.keys import create_key
from core.config import Settings
from core.runs.log import register_tx_hook, unregister_tx_hook
from core.runtime import Runtime, set_runtime
from core.tools.gate import ToolGate
from core.tools.registry import ToolRegistry
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolSpec
from handoff.config import HandoffSettings, set_handoff_settings
from handoff.push.fcm import FcmSender
from handoff.push.outbox import outbox_hook
from handoff.push.vapid import create_vapid_key, load_vapid_key
from handoff.push.webpush import WebPushSender
from tests.handoff.push_services import FcmService, WebPushService

SECRET = "test-handoff-secret-0123456789abcdef"


GOOGLE_HOSTS = ("https://fcm.googleapis.com", "https://iamcredentials.googleapis.com")


class RedirectAdapter(requests.adapters.HTTPAdapter):
    """Carries firebase-admin's requests for Google's hosts to the local FCM server.

    The FCM URL is a constant inside firebase-admin; its own tests mount a transport adapter
    on the messaging session the same way. Everything above the socket stays the library's.
    """

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        for host in GOOGLE_HOSTS:
            if request.url.startswith(host):
                request.url = self.base + request.url[len(host) :]
        return super().send(request, *args, **kwargs)


def route_fcm_to(sender: FcmSender, base: str) -> None:
    """Point a sender's messaging client (and google-auth's own lookups) at ``base``."""
    session = messaging._get_messaging_service(sender.app)._client.session
    for host in GOOGLE_HOSTS:
        session.mount(host, RedirectAdapter(base))
        # google-auth asks IAM for the account's allowed locations on its own session.
        session._auth_request.session.mount(host, RedirectAdapter(base))


async def _send_email(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return {"sent_to": args["to"], "message": f"sent to {args['to']}"}


def email_spec() -> ToolSpec:
    """A tool that acts outside Baton, so it waits for a person's approval."""
    return ToolSpec(
        name="email.send",
        description="Send an email",
        fn=_send_email,
        input_schema={
            "type": "object",
            "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to"],
        },
        risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
        idempotency=Idempotency.KEYED,
        approval_required=True,
    )


def handoff_gate(settings: Settings) -> ToolGate:
    """A gate over save_artifact and the approval-needing email tool."""
    return ToolGate(ToolRegistry([save_artifact_tool(settings), email_spec()]))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings on this test's data dir and database."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url="http://testserver",
        agent="scripted",
    )


@pytest.fixture
def handoff_settings() -> Iterator[HandoffSettings]:
    """Handoff settings with a known secret, installed for this test's process-wide reads
    (routes, the web-view session, setup_process)."""
    installed = HandoffSettings(
        handoff_secret=SECRET, webpush_allow_http=True, push_lease_seconds=30
    )
    set_handoff_settings(installed)
    try:
        yield installed
    finally:
        set_handoff_settings(None)


@pytest.fixture
def outbox_on() -> Iterator[None]:
    """Queue pushes with events, as setup_process does in serve and worker."""
    register_tx_hook(outbox_hook)
    try:
        yield
    finally:
        unregister_tx_hook(outbox_hook)


@pytest.fixture
def fcm_service() -> Iterator[FcmService]:
    service = FcmService().start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def webpush_service() -> Iterator[WebPushService]:
    service = WebPushService().start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def fcm_sender(fcm_service: FcmService, tmp_path: Path) -> Iterator[FcmSender]:
    sender = FcmSender(fcm_service.service_account_file(tmp_path))
    route_fcm_to(sender, fcm_service.base)
    try:
        yield sender
    finally:
        firebase_admin.delete_app(sender.app)


@pytest.fixture
def webpush_sender(tmp_path: Path) -> WebPushSender:
    path = tmp_path / "data" / "vapid_private.pem"
    if not path.exists():
        create_vapid_key(path)
    return WebPushSender(load_vapid_key(path), "mailto:ops@example.com")


@pytest.fixture
def runtime(
    engine: Engine, settings: Settings, handoff_settings: HandoffSettings
) -> Iterator[Runtime]:
    """This test's runtime, as serve would build it (scripted agent, handoff tools), with this
    test's handoff settings installed."""
    rt = Runtime(settings, engine, lambda: handoff_gate(settings), ScriptedAgent)
    set_runtime(rt)
    try:
        yield rt
    finally:
        set_runtime(None)


@pytest.fixture
def app_client(runtime: Runtime) -> Iterator[TestClient]:
    """The real app (core API + plugins) without its lifespan (no background workers)."""
    from core.api.app import create_app

    with_hook = outbox_hook
    register_tx_hook(with_hook)
    try:
        yield TestClient(create_app(runtime.settings), base_url="http://testserver")
    finally:
        unregister_tx_hook(with_hook)


@pytest.fixture
def api_key(runtime: Runtime) -> str:
    return create_key(runtime.engine, "acme", "ann")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def app_routes(app: Any, prefixes: tuple[str, ...]) -> list[tuple[str, APIRoute]]:
    """(method, route) for every HTTP route of ``app`` under one of ``prefixes``."""
    found: list[tuple[str, APIRoute]] = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and route.path.startswith(prefixes):
            found.extend((method, route) for method in sorted(route.methods or ()))
    return found
