"""The parts a Baton process shares: one engine, one tool gate, the agent factory.

Built once per process (``get_runtime``) so that models, tool registries and connection pools
are loaded once, not per request or per call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from core.config import Settings, get_settings
from core.store.db import make_engine
from core.store.migrate import upgrade
from core.tools.gate import ToolGate
from core.tracing import configure_tracing
from models.contract import Agent

if TYPE_CHECKING:
    from core.worker.runner import Worker


@dataclass
class Runtime:
    """Process-wide handles."""

    settings: Settings
    engine: Engine
    gate_factory: Callable[[], ToolGate]
    agent_factory: Callable[[], Agent]
    _gate: ToolGate | None = field(default=None, repr=False)

    def new_worker(self, concurrency: int | None = None) -> Worker:
        """A worker over this runtime's store, agent and tools, configured from the settings."""
        from core.worker.runner import Worker

        s = self.settings
        return Worker(
            self.engine,
            self.agent_factory,
            self.gate,
            concurrency=concurrency or s.worker_concurrency,
            lease_ttl_s=s.lease_ttl_seconds,
            poll_s=s.worker_poll_seconds,
            housekeeping=self.housekeeping(),
        )

    def housekeeping(self) -> list[Callable[[], object]]:
        """Duties a worker process runs beside its steps: the memory write pipeline and those
        plugins registered with :func:`register_housekeeping`."""
        from core.memory.pipeline import process_proposals

        duties: list[Callable[[], object]] = [
            lambda: process_proposals(self.engine, settings=self.settings)
        ]
        duties.extend(partial(duty, self) for duty in _housekeeping)
        return duties

    def close_tools(self) -> None:
        """Release what the tool registry holds (MCP sessions), if it was built."""
        if self._gate is not None:
            self._gate.registry.close()

    @property
    def gate(self) -> ToolGate:
        """The tool gate, built on first use (MCP servers start then)."""
        if self._gate is None:
            self._gate = self.gate_factory()
        return self._gate


_runtime: Runtime | None = None
_lock = threading.Lock()
_housekeeping: list[Callable[[Runtime], object]] = []


def register_housekeeping(duty: Callable[[Runtime], object]) -> None:
    """Run ``duty(runtime)`` with the housekeeping of every worker of this process.

    A plugin's ``setup_process`` calls this (before serve or worker asks for the duties); a
    duty is called about once a second and paces itself.
    """
    if duty not in _housekeeping:
        _housekeeping.append(duty)


def _default_gate(settings: Settings) -> Callable[[], ToolGate]:
    def build() -> ToolGate:
        from core.tools.providers import build_registry

        return ToolGate(build_registry(settings))

    return build


def _default_agent(settings: Settings, engine: Engine) -> Callable[[], Agent]:
    def build() -> Agent:
        from core.agent.factory import build_agent

        return build_agent(settings, engine)

    return build


def get_runtime(settings: Settings | None = None) -> Runtime:
    """The process runtime; the first call migrates the database."""
    global _runtime
    with _lock:
        if _runtime is None:
            s = settings or get_settings()
            s.data_dir.mkdir(parents=True, exist_ok=True)
            engine = make_engine(s.resolved_database_url())
            upgrade(engine)
            configure_tracing(s, engine)
            _runtime = Runtime(s, engine, _default_gate(s), _default_agent(s, engine))
        return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install a runtime (tests build one around their own engine)."""
    global _runtime
    with _lock:
        _runtime = runtime
