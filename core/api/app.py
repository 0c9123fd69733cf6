"""The FastAPI application: run API, plugins' routes, and (when serving) in-process workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from core.api.errors import ERROR_RESPONSES, BodyLimit, StorableInput, install_error_handlers
from core.api.routers import contacts, costs, memories, metrics, runs, traces, webhooks
from core.config import Settings, get_settings
from core.mcp_server.http import mount_mcp
from core.plugins import setup_app, setup_process
from core.runtime import get_runtime
from core.webhooks.background import start_background_delivery as start_webhook_delivery
from core.webhooks.background import stop_background_delivery as stop_webhook_delivery

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, run_workers: bool = False) -> FastAPI:
    """Build the app. With ``run_workers`` the app also executes runs (embedded default)."""
    s = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = get_runtime(s)
        setup_process(s)
        worker: Any = None
        if run_workers:
            worker = rt.new_worker()
            worker.start()
            start_webhook_delivery(rt.engine, s)
        for hook in app.state.startup_hooks:
            await hook(app)
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                await hook(app)
            if worker is not None:
                stop_webhook_delivery()
                worker.stop()
            rt.close_tools()

    app = FastAPI(
        title="Baton",
        version="0.1.0",
        description="A voice assistant service whose runs outlive the call.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    # Surfaces add ways to sign in (web-view sessions) and work to do at start/stop.
    app.state.identity_resolvers = []
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    app.state.settings = s
    install_error_handlers(app)
    app.add_middleware(StorableInput)
    app.add_middleware(BodyLimit, limit=s.max_request_bytes)  # outermost: bounds what is read
    app.include_router(runs.router)
    app.include_router(memories.router)
    app.include_router(contacts.router)
    app.include_router(webhooks.router)
    app.include_router(traces.router)
    app.include_router(costs.router)
    app.include_router(metrics.router)
    mount_mcp(app, s)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    setup_app(app, s)
    return app
