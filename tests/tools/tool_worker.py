"""A real worker process running Baton's own tools, for the crash-replay tests.

With ``--crash-at BOUNDARY`` it writes a marker file the first time a step reaches that
boundary and then hangs there, so the test can SIGKILL it at exactly that point.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from core.agent.scripted import ScriptedAgent
from core.config import Settings
from core.store.db import make_engine
from core.tools.gate import ToolGate
from core.tools.providers import build_registry
from core.worker.runner import Worker


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--smtp-url", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--crash-at", default="")
    p.add_argument("--marker", default="")
    a = p.parse_args()
    engine = make_engine(a.url)
    settings = Settings(
        data_dir=Path(a.data_dir), smtp_url=a.smtp_url, sandbox_bwrap="/nonexistent/bwrap"
    )

    def observer(boundary: str, run_id: str, step: int) -> None:
        if boundary == a.crash_at:
            Path(a.marker).write_text(f"{boundary} {run_id} {step}")
            while True:  # wait here for SIGKILL
                time.sleep(1)

    worker = Worker(
        engine,
        ScriptedAgent,
        ToolGate(build_registry(settings)),
        lease_ttl_s=1.0,
        poll_s=0.05,
        observer=observer,
    )
    worker.run_forever()


if __name__ == "__main__":
    main()
