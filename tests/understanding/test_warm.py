"""The command layer is ready when the process builds its agent, not at the first request."""

from __future__ import annotations

from core.agent.factory import with_command_stage
from core.contacts import names
from core.understanding import warm
from tests.understanding.world import ModelMustNotBeCalled, settings


def test_building_the_agent_loads_the_name_dictionary(engine, tmp_path):
    warm.warm_understanding.cache_clear()
    names._dictionary.cache_clear()
    with_command_stage(ModelMustNotBeCalled(), settings(tmp_path), engine)
    assert names._dictionary.cache_info().currsize == 1
