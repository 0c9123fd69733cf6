"""The voice side of a serving process: its models, loaded once, and the calls in progress."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pipecat.pipeline.worker import PipelineWorker

from core.config import Settings
from core.runtime import get_runtime
from voice.bridge import FIXED_PHRASES
from voice.config import VoiceSettings
from voice.services import VoiceServices, load_voice_services

log = logging.getLogger(__name__)


class VoiceRuntime:
    """Process-wide voice state on ``app.state.voice``: shared models and live calls."""

    def __init__(self, settings: Settings, voice_settings: VoiceSettings) -> None:
        self.settings = settings
        self.voice_settings = voice_settings
        self._services: VoiceServices | None = None
        self._loading: asyncio.Task[VoiceServices] | None = None
        self.calls: dict[str, PipelineWorker] = {}

    async def services(self) -> VoiceServices:
        """The loaded models (loading them on first use, off the event loop)."""
        if self._services is not None:
            return self._services
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
        self._services = await asyncio.shield(self._loading)
        return self._services

    def _load(self) -> VoiceServices:
        runtime = get_runtime(self.settings)
        # The scripted agent has no classification task; any model-backed agent does.
        classifier = None if self.settings.agent == "scripted" else runtime.agent_factory
        services = load_voice_services(
            self.settings, self.voice_settings, runtime.engine, classifier_agent=classifier
        )
        services.phrases.add_fixed(FIXED_PHRASES)
        services.phrases.warm(services.piper)
        log.info("voice models loaded in %s", services.load_seconds)
        return services

    def install(self, services: VoiceServices) -> None:
        """Use already loaded models (tests and benchmarks share one set per session)."""
        self._services = services

    def on_a_call(self, tenant_id: str, user_id: str) -> bool:
        """Whether the user is on a call with this server now (a call-back waits)."""
        for worker in list(self.calls.values()):
            call = getattr(getattr(worker, "bridge", None), "call", None)
            if call is not None and (call.tenant_id, call.user_id) == (tenant_id, user_id):
                return True
        return False

    async def hang_up_all(self) -> None:
        """End every call in progress (server shutdown); their runs stay in the store."""
        for worker in list(self.calls.values()):
            with contextlib.suppress(Exception):
                await worker.cancel(reason="server shutting down")
        self.calls.clear()


def voice_settings_of(app: Any) -> VoiceSettings:
    """The voice settings ``app`` was set up with (kept on its voice runtime)."""
    runtime: VoiceRuntime = app.state.voice
    return runtime.voice_settings
