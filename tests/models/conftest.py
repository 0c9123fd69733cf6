"""Fixtures of the model-layer tests: a local OpenAI-compatible server and the embedded LLM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from models.config import ModelSpec
from models.embedded_server import EmbeddedLLM, shared_embedded_llm
from tests.models.openai_server import OpenAIStub


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    """A fresh OpenAI-compatible server on a free loopback port."""
    server = OpenAIStub().start()
    try:
        yield server
    finally:
        server.stop()


def stub_spec(stub: OpenAIStub, name: str, **overrides: Any) -> ModelSpec:
    """A model spec pointing litellm at ``name`` on the stub (priced like gpt-4o-mini)."""
    data: dict[str, Any] = {
        "name": name,
        "model": "openai/gpt-4o-mini",
        "api_base": stub.api_base(name),
        "api_key": "sk-test-DO-NOT-LOG-1234567890",
        "timeout_s": 5.0,
    }
    data.update(overrides)
    return ModelSpec(**data)


@pytest.fixture(scope="session")
def embedded_llm() -> Iterator[EmbeddedLLM]:
    """The real embedded llama.cpp server on SmolLM2-135M, started once per session (the
    same process-wide server the agent factory uses)."""
    llm = shared_embedded_llm()
    try:
        yield llm
    finally:
        llm.stop()
