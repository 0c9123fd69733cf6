"""`baton serve` for the browser test, with the scripted agent and the handoff test tools.

Settings come from the environment (BATON_*), exactly as `baton serve` reads them; only the
tool registry differs (save_artifact and an email tool that needs approval).
"""

from __future__ import annotations

import uvicorn

from core.agent.scripted import ScriptedAgent
from core.api.app import create_app
from core.config import get_settings
from core.runtime import Runtime, set_runtime
from core.store.db import make_engine
from core.store.migrate import upgrade
from tests.handoff.conftest import handoff_gate


def main() -> None:
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    set_runtime(Runtime(settings, engine, lambda: handoff_gate(settings), ScriptedAgent))
    app = create_app(settings, run_workers=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
