"""The /metrics text: this process's histograms and gauges, then the database counters."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, start_http_server
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import Engine

from core.metrics import runs, voice
from core.metrics.database import DatabaseCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST
# The instruments register themselves on import; naming them keeps that import explicit.
INSTRUMENTS = (runs, voice)


def render(engine: Engine) -> bytes:
    """The Prometheus exposition of this process and of the deployment's database counters."""
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(engine))
    return generate_latest(REGISTRY) + generate_latest(database)


def serve_process_metrics(host: str, port: int) -> None:
    """Serve this process's own metrics (no database counters) on ``host:port`` in a daemon
    thread: a worker process's checkpoint and queue-delay histograms live only there."""
    start_http_server(port, addr=host)
