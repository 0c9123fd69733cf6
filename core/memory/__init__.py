"""Memory: scoped, attributed, editable knowledge, retrieved under the caller's ACL.

Importing this package registers the run-log hook that queues ``MemoryWriteProposed`` events
(see :mod:`core.memory.pipeline`); :func:`install` does the same explicitly.
"""

from __future__ import annotations

from core.memory.pipeline import enqueue_proposals
from core.runs.log import register_tx_hook


def install() -> None:
    """Queue memory proposals in the transaction that appends them (idempotent)."""
    register_tx_hook(enqueue_proposals)


install()
