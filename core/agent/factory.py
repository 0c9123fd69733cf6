"""Builds the process's Agent from Settings (the only place that maps Settings to models/).

With no model configured, the embedded llama.cpp server is started (once per process) and
every task is routed to it. The gateway agent is cached per process so that all worker slots
share one set of circuit breakers and one embedded server.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Engine

from core.config import Settings
from models.config import EmbeddedLLMConfig, GatewayConfig, ModelSpec
from models.contract import Agent

if TYPE_CHECKING:
    from models.intent import ActionClassifier

log = logging.getLogger(__name__)
EMBEDDED = "embedded"
_agents: dict[str, Agent] = {}
_lock = threading.Lock()


class ModelConfigError(ValueError):
    """The model settings are wrong; the message says which variable and why."""


def embedded_config(settings: Settings) -> EmbeddedLLMConfig:
    """The embedded server's configuration from Settings."""
    return EmbeddedLLMConfig(
        model_path=settings.embedded_llm_gguf,
        threads=settings.embedded_llm_threads,
        n_ctx=settings.embedded_llm_ctx,
        log_path=settings.data_dir / "logs" / "embedded-llm.log",
    )


def gateway_config(settings: Settings) -> GatewayConfig:
    """The gateway's configuration from Settings, without starting anything.

    Returns no models when the embedded server is the only one; a route may name
    ``embedded`` next to hosted models (e.g. for confidential data).
    """
    specs: list[ModelSpec] = []
    try:
        if settings.model:
            specs.append(
                ModelSpec(
                    name="default",
                    model=settings.model,
                    api_base=settings.model_api_base,
                    api_key=settings.model_api_key,
                    timeout_s=settings.model_timeout_seconds,
                )
            )
        for raw in settings.models:
            data: dict[str, Any] = {"timeout_s": settings.model_timeout_seconds, **raw}
            specs.append(ModelSpec.model_validate(data))
    except ValidationError as exc:
        raise ModelConfigError(f"BATON_MODELS / BATON_MODEL is invalid: {exc}") from None
    routes = {k: [n for n in v if n != EMBEDDED] for k, v in settings.model_routes.items()}
    try:
        return GatewayConfig(
            models=specs,
            routes=routes,
            max_attempts=settings.model_max_attempts,
            breaker_failure_threshold=settings.model_breaker_failures,
            breaker_cooldown_s=settings.model_breaker_cooldown_seconds,
            debug_prompts=settings.model_debug_prompts,
            embedded=embedded_config(settings),
        )
    except ValidationError as exc:
        raise ModelConfigError(f"BATON_MODEL_ROUTES is invalid: {exc}") from None


def _wants_embedded(settings: Settings) -> bool:
    if not settings.model and not settings.models:
        return True
    return any(EMBEDDED in route for route in settings.model_routes.values())


def resolved_gateway_config(settings: Settings) -> GatewayConfig:
    """The gateway configuration with the embedded server started when it is needed."""
    config = gateway_config(settings)
    if not _wants_embedded(settings):
        return config
    from models.embedded_server import shared_embedded_llm

    spec = shared_embedded_llm(config.embedded).spec()
    return GatewayConfig(
        models=[*config.models, spec],
        routes={k: list(v) for k, v in settings.model_routes.items()} if config.models else {},
        max_attempts=config.max_attempts,
        breaker_failure_threshold=config.breaker_failure_threshold,
        breaker_cooldown_s=config.breaker_cooldown_s,
        debug_prompts=config.debug_prompts,
        embedded=config.embedded,
    )


def action_classifier() -> ActionClassifier | None:
    """The embedding classifier that picks a small model's action first (None when the
    memory layer's MiniLM encoder is not installed: the model then chooses by itself)."""
    from models.intent import ActionClassifier

    try:
        from core.memory.embedding import get_embedder

        embedder = get_embedder()
    except (ImportError, RuntimeError):
        log.warning("no sentence encoder installed: small models choose actions unaided")
        return None
    return ActionClassifier(embedder.embed)


def with_command_stage(model: Agent, settings: Settings, engine: Engine | None) -> Agent:
    """``model`` behind the command layer (BATON_UNDERSTANDING=parser_first), or alone."""
    if settings.understanding not in ("parser_first", "model_only"):
        raise ModelConfigError(
            "BATON_UNDERSTANDING must be 'parser_first' or 'model_only', "
            f"not {settings.understanding!r}"
        )
    if settings.understanding == "model_only" or engine is None:
        return model
    from core.understanding.agent import CommandAgent
    from core.understanding.warm import warm_understanding

    # At the worker's start (it builds an agent first), not in the first caller's turn.
    warm_understanding()
    return CommandAgent(model, engine, settings)


def build_agent(settings: Settings, engine: Engine | None = None) -> Agent:
    """The Agent for this process: scripted, or the gateway agent over litellm (behind the
    command layer when an engine is given for its reads)."""
    if settings.agent == "scripted":
        from core.agent.scripted import ScriptedAgent

        return ScriptedAgent()
    if settings.agent != "gateway":
        raise ModelConfigError(
            f"BATON_AGENT must be 'gateway' or 'scripted', not {settings.agent!r}"
        )
    key = settings.model_dump_json()
    with _lock:
        agent = _agents.get(key)
        if agent is None:
            from models.agent import GatewayAgent
            from models.gateway import Gateway

            config = resolved_gateway_config(settings)
            two_stage = any(m.decoding == "two_stage" for m in config.models)
            classifier = action_classifier() if two_stage else None
            agent = GatewayAgent(Gateway(config), classifier=classifier)
            _agents[key] = agent
        return with_command_stage(agent, settings, engine)


def models_cli_context(settings: Settings) -> tuple[GatewayConfig, Path, bool]:
    """What `baton models` shows: the configured models, the data dir, embedded or not."""
    return gateway_config(settings), settings.data_dir, _wants_embedded(settings)
