"""The handoff plugin: wires handoff into the app, the CLI and every Baton process."""

from __future__ import annotations

from typing import Any

from fastapi.staticfiles import StaticFiles

from core.runs.log import register_tx_hook


class HandoffPlugin:
    """Devices, push delivery, artifacts over HTTP and the companion web view."""

    def setup_app(self, app: Any) -> None:
        """Routes (devices, artifacts, web view), the session resolver, push shutdown."""
        from handoff.api import artifacts, devices
        from handoff.push.service import stop_background_delivery
        from handoff.web import costs, routes
        from handoff.web.session import session_identity

        app.include_router(devices.router)
        app.include_router(artifacts.router)
        app.include_router(routes.api)
        app.include_router(routes.pages)
        app.include_router(costs.pages)
        app.mount("/app/static", StaticFiles(directory=routes.STATIC), name="handoff-static")
        if session_identity not in app.state.identity_resolvers:
            app.state.identity_resolvers.append(session_identity)

        async def _stop_push(_app: Any) -> None:
            stop_background_delivery()

        app.state.shutdown_hooks.append(_stop_push)

    def setup_cli(self, typer_app: Any) -> None:
        """`baton keys vapid` and `baton push deliver`."""
        from handoff.cli import install

        install(typer_app)

    def setup_process(self) -> None:
        """Queue pushes with the events that cause them, deliver them in the background, clean
        up delivered ones in the workers' housekeeping, and give agents the ``save_artifact``
        tool that hands long results to the phone.

        The handoff settings are read here, once, for the process's background work.
        """
        from core.artifacts.tool import artifact_tools
        from core.runtime import get_runtime, register_housekeeping
        from core.tools.providers import register_tool_provider
        from handoff.config import get_handoff_settings
        from handoff.push.cleanup import OutboxCleanup
        from handoff.push.outbox import outbox_hook
        from handoff.push.service import start_background_delivery

        handoff_settings = get_handoff_settings()
        register_tx_hook(outbox_hook)
        register_tool_provider(artifact_tools)
        register_housekeeping(OutboxCleanup(handoff_settings))
        rt = get_runtime()
        start_background_delivery(rt.engine, rt.settings, handoff_settings)


plugin = HandoffPlugin()
