"""A real worker process for the crash tests.

It runs Baton's Worker against the given database with the side-effect tool registered. With
``--crash-at BOUNDARY --crash-step N`` it writes a marker file when it reaches that step
boundary and then hangs there, so the test can SIGKILL it at exactly that point.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from core.agent.scripted import ScriptedAgent
from core.store.db import make_engine
from core.tools.spec import RiskLevel
from core.worker.runner import Worker
from tests.core.helpers import bump_spec, ensure_side_effects, gate_with


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--crash-at", default="")
    p.add_argument("--crash-step", type=int, default=0)
    p.add_argument("--marker", default="")
    p.add_argument("--risk", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=1)
    a = p.parse_args()
    engine = make_engine(a.url)
    ensure_side_effects(engine)

    def observer(boundary: str, run_id: str, step: int) -> None:
        if boundary == a.crash_at and step == a.crash_step:
            Path(a.marker).write_text(f"{boundary} {run_id} {step}")
            while True:  # wait here for SIGKILL
                time.sleep(1)

    worker = Worker(
        engine,
        ScriptedAgent,
        gate_with(bump_spec(RiskLevel(a.risk))),
        concurrency=a.concurrency,
        lease_ttl_s=1.0,
        poll_s=0.05,
        observer=observer,
    )
    worker.run_forever()


if __name__ == "__main__":
    main()
