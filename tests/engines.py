"""Which database engines a test runs on (the ``database_url`` fixture runs both by default)."""

from __future__ import annotations

import pytest

# For behaviour that never reaches the engine's own code: how a call hears, reads and times
# speech, or a check that fails before any query. The store's part of a call (the run-change
# notifier, approvals decided by voice and keypad, call-backs, traces) keeps its Postgres
# cases in the phone, pipeline, approval and call-back tests, and every core test runs on both.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
