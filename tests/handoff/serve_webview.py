"""`baton serve` for the browser test, with the scripted agent and the handoff test tools.

Settings come from the environment (BATON_*), exactly as `baton serve` reads them; only the
tool registry differs (save_artifact and an email tool that needs approval), and the agent,
which follows the run's script but reports each decision as a model call (so the run's trace
has model spans with tokens, latency and cost, like a real model's).
"""

from __future__ import annotations

import uvicorn

from core.agent.scripted import ScriptedAgent
from core.api.app import create_app
from core.config import get_settings
from core.runtime import Runtime, set_runtime
from core.store.db import make_engine
from core.store.migrate import upgrade
from core.tracing import configure_tracing
from models.contract import AgentResult, ContextPack, ModelCallRecord, UnderstandingRecord
from tests.handoff.conftest import handoff_gate

MODEL_CALL = ModelCallRecord(
    model="openai/gpt-4o-mini", input_tokens=812, output_tokens=23, latency_ms=41.5, cost_usd=0.0002
)


class MeteredAgent(ScriptedAgent):
    """The scripted agent, reporting one model call and a model-stage understanding."""

    async def decide(self, pack: ContextPack) -> AgentResult:
        """The scripted decision, as if a model had made it."""
        result = await super().decide(pack)
        intent = getattr(result.decision, "tool", None) or result.decision.type
        understood = UnderstandingRecord(stage="model", intent=intent, confidence=0.87)
        return result.model_copy(update={"calls": [MODEL_CALL], "understanding": understood})


def main() -> None:
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    configure_tracing(settings, engine)
    set_runtime(Runtime(settings, engine, lambda: handoff_gate(settings), MeteredAgent))
    app = create_app(settings, run_workers=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
