"""The FastAPI application: run API, plugins' routes, and (when serving) in-process workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from core.api.errors import ERROR_RESPONSES, BodyLimit, StorableInput, install_error_handlers
from core.api.routers import contacts, memories, runs
from core.config import Settings, get_settings
from core.plugins import setup_app, setup_process
from core.runtime import get_runtime

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
            from core.worker.runner import Worker

            worker = Worker(
                rt.engine,
                rt.agent_factory,
                rt.gate,
                concurrency=s.worker_concurrency,
                lease_ttl_s=s.lease_ttl_seconds,
                poll_s=s.worker_poll_seconds,
                housekeeping=rt.housekeeping(),
            )
            worker.start()
        for hook in app.state.startup_hooks:
            await hook(app)
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                await hook(app)
            if worker is not None:
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

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    setup_app(app, s)
    return app
