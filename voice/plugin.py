"""The voice plugin: wires voice into the app, the CLI and every Baton process.

In the app: the process's voice runtime (models loaded once, in the background at start-up,
so the first caller does not wait for them), the phone webhook and media-stream websocket,
the browser call page with WebRTC signalling, and call-backs (their preferences, the dialer
and Twilio's webhooks). In every process: call-backs queued with the run events that call
for them. In the CLI: ``baton phones``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

if TYPE_CHECKING:
    from voice.runtime import VoiceRuntime

log = logging.getLogger(__name__)
# A browser call greets once the caller can hear it, or after this long regardless.
CONNECT_WAIT_S = 10.0


class _Plugin:
    """Entry point ``baton.plugins: voice``."""

    def setup_app(self, app: FastAPI) -> None:
        """Mount phone and browser calls, and load the speech models when the app starts.

        The voice settings are read here, once, and kept on ``app.state.voice``.
        """
        from voice.config import get_voice_settings
        from voice.routes import callback_prefs, callbacks, calls, telephony
        from voice.runtime import VoiceRuntime

        voice = VoiceRuntime(app.state.settings, get_voice_settings())
        app.state.voice = voice
        app.include_router(telephony.router)
        app.include_router(callbacks.router)
        app.include_router(callback_prefs.router)
        app.include_router(calls.router)
        _install_browser(app, voice)
        preload: list[asyncio.Future[Any]] = []

        async def load_models(_app: FastAPI) -> None:
            if voice.voice_settings.voice_preload:
                preload.append(asyncio.ensure_future(voice.services()))

        async def hang_up(_app: FastAPI) -> None:
            await voice.hang_up_all()
            for task in preload:
                if not task.done():
                    # Loading runs in a thread; let it finish rather than leak it half-done.
                    with contextlib.suppress(Exception):
                        await task

        dialers: list[Any] = []

        async def start_dialer(_app: FastAPI) -> None:
            dialer = _callback_dialer(app, voice)
            if dialer is not None:
                dialers.append(dialer)
                dialer.start()

        async def stop_dialer(_app: FastAPI) -> None:
            for dialer in dialers:
                await asyncio.to_thread(dialer.stop)
            dialers.clear()

        app.state.startup_hooks.extend([load_models, start_dialer])
        app.state.shutdown_hooks.extend([stop_dialer, hang_up])

    def setup_process(self) -> None:
        """Queue call-backs with the run events that call for them."""
        from core.runs.log import register_tx_hook
        from voice.callbacks.queue import callback_hook

        register_tx_hook(callback_hook)

    def setup_cli(self, typer_app: Any) -> None:
        """Add ``baton phones``."""
        from voice.cli import phones_app

        typer_app.add_typer(phones_app, name="phones")


def _callback_dialer(app: FastAPI, voice: VoiceRuntime) -> Any:
    """The call-back dialer of this server, or None when call-backs are not configured."""
    from core.runtime import get_runtime
    from voice.callbacks.dialer import Dialer, missing_settings

    settings = app.state.settings
    missing = missing_settings(settings, voice.voice_settings)
    if missing:
        log.info("call-backs off: set %s", ", ".join(missing))
        return None
    return Dialer(get_runtime(settings).engine, settings, voice.voice_settings, voice.on_a_call)


def _install_browser(app: FastAPI, voice: VoiceRuntime) -> None:
    from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

    from core.auth.keys import Identity
    from voice.pipeline import build_call_pipeline, run_call
    from voice.routes.browser import install_browser
    from voice.session import CallSession
    from voice.transports.webrtc import CallLimits, browser_transport, page_notifier

    async def start_call(connection: SmallWebRTCConnection, caller: Identity) -> None:
        services = await voice.services()
        transport = browser_transport(connection)
        call = CallSession(
            tenant_id=caller.tenant_id,
            user_id=caller.user_id,
            channel="browser",
            notify=page_notifier(connection),
        )
        connected = asyncio.Event()

        async def ready() -> None:
            if not connection.is_connected():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(connected.wait(), CONNECT_WAIT_S)

        call.ready = ready
        worker = build_call_pipeline(transport, call, services)

        @transport.event_handler("on_client_connected")
        async def _here(_transport: Any, _client: Any) -> None:
            connected.set()

        @transport.event_handler("on_client_disconnected")
        async def _gone(_transport: Any, _client: Any) -> None:
            await worker.cancel(reason="browser left")

        voice.calls[call.call_id] = worker
        try:
            await run_call(worker)
        finally:
            voice.calls.pop(call.call_id, None)

    servers = voice.voice_settings.webrtc_ice_servers
    install_browser(
        app,
        start_call,
        [s.strip() for s in servers.split(",") if s.strip()],
        limits=CallLimits.from_settings(voice.voice_settings),
    )


plugin = _Plugin()
