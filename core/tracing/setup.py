"""The process's span export: OTLP/HTTP when an endpoint is configured, else the local span
store; none at all when BATON_TRACING is off.

The set-up is Baton's own (not OpenTelemetry's global TracerProvider), so a process can be
configured again with another engine or endpoint (tests, benchmarks) and a library that
installs a global provider does not receive Baton's spans by accident.
"""

from __future__ import annotations

import atexit
import threading
from typing import Literal
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from sqlalchemy import Engine

from core.config import Settings
from core.tracing.recorder import ReadableExport, SpanBatcher, SpanSink

SERVICE_NAME = "baton"
TRACES_PATH = "/v1/traces"
EXPORT_BATCH = 512
_lock = threading.Lock()
_batcher: SpanBatcher | None = None
Mode = Literal["local", "otlp", "off"]
_mode: Mode = "off"


def otlp_traces_url(endpoint: str) -> str:
    """The URL spans are posted to: the endpoint as given when it names the traces path,
    else the endpoint with ``/v1/traces`` appended (like OTEL_EXPORTER_OTLP_ENDPOINT)."""
    if urlsplit(endpoint).path.rstrip("/").endswith(TRACES_PATH):
        return endpoint
    return endpoint.rstrip("/") + TRACES_PATH


def _sink(settings: Settings, engine: Engine) -> tuple[SpanSink, Mode]:
    if settings.otel_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_traces_url(settings.otel_endpoint))
        resource = Resource.create({"service.name": SERVICE_NAME})
        return ReadableExport(exporter, resource), "otlp"
    from core.tracing.local import LocalSpanExporter

    return LocalSpanExporter(engine, settings.trace_keep_spans), "local"


def configure_tracing(settings: Settings, engine: Engine) -> None:
    """Install this process's tracing from ``settings`` (replacing any earlier set-up, whose
    pending spans are exported first)."""
    global _batcher, _mode
    shutdown_tracing()
    if not settings.tracing:
        return
    sink, mode = _sink(settings, engine)
    # A local export of a full batch holds SQLite's only write lock for a few milliseconds;
    # fewer, larger batches cost the steps less than that wait (fewer commits, fewer pages
    # written again).
    batcher = SpanBatcher(sink, EXPORT_BATCH)
    with _lock:
        _batcher, _mode = batcher, mode


def shutdown_tracing() -> None:
    """Export what is pending and stop tracing in this process."""
    global _batcher, _mode
    with _lock:
        batcher, _batcher, _mode = _batcher, None, "off"
    if batcher is not None:
        batcher.shutdown()


def flush_tracing(timeout_ms: int = 30_000) -> bool:
    """Export every span this process has finished; False if that took too long."""
    batcher = _batcher
    return batcher.force_flush(timeout_ms) if batcher is not None else True


def current_batcher() -> SpanBatcher | None:
    """Where this process's finished spans go, None when tracing is off."""
    return _batcher


def tracing_mode() -> Mode:
    """Where this process's spans go: "local", "otlp" or "off"."""
    return _mode


atexit.register(shutdown_tracing)
