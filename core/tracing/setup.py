"""The process's TracerProvider: OTLP/HTTP when an endpoint is configured, else the local
span store; none at all when BATON_TRACING is off.

The provider is Baton's own (not OpenTelemetry's global one), so a process can be configured
again with another engine or endpoint (tests, benchmarks) and a library that installs a global
provider does not receive Baton's spans by accident.
"""

from __future__ import annotations

import atexit
import threading
from typing import Literal
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Tracer
from sqlalchemy import Engine

from core.config import Settings

SERVICE_NAME = "baton"
TRACES_PATH = "/v1/traces"
EXPORT_BATCH = 128
_lock = threading.Lock()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None
Mode = Literal["local", "otlp", "off"]
_mode: Mode = "off"


def otlp_traces_url(endpoint: str) -> str:
    """The URL spans are posted to: the endpoint as given when it names the traces path,
    else the endpoint with ``/v1/traces`` appended (like OTEL_EXPORTER_OTLP_ENDPOINT)."""
    if urlsplit(endpoint).path.rstrip("/").endswith(TRACES_PATH):
        return endpoint
    return endpoint.rstrip("/") + TRACES_PATH


def _exporter(settings: Settings, engine: Engine) -> tuple[SpanExporter, Mode]:
    if settings.otel_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=otlp_traces_url(settings.otel_endpoint)), "otlp"
    from core.tracing.local import LocalSpanExporter

    return LocalSpanExporter(engine, settings.trace_keep_spans), "local"


def configure_tracing(settings: Settings, engine: Engine) -> None:
    """Install this process's tracing from ``settings`` (replacing any earlier set-up, whose
    pending spans are exported first)."""
    global _provider, _tracer, _mode
    shutdown_tracing()
    if not settings.tracing:
        return
    exporter, mode = _exporter(settings, engine)
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME}), shutdown_on_exit=False
    )
    # Small batches: a local export holds SQLite's only write lock for a short time.
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=EXPORT_BATCH))
    with _lock:
        _provider, _tracer, _mode = provider, provider.get_tracer("baton.core"), mode


def shutdown_tracing() -> None:
    """Export what is pending and stop tracing in this process."""
    global _provider, _tracer, _mode
    with _lock:
        provider, _provider, _tracer, _mode = _provider, None, None, "off"
    if provider is not None:
        provider.shutdown()


def flush_tracing(timeout_ms: int = 30_000) -> bool:
    """Export every span this process has finished; False if that took too long."""
    provider = _provider
    return provider.force_flush(timeout_ms) if provider is not None else True


def current_tracer() -> Tracer | None:
    """The tracer of this process, None when tracing is off."""
    return _tracer


def tracing_mode() -> Mode:
    """Where this process's spans go: "local", "otlp" or "off"."""
    return _mode


atexit.register(shutdown_tracing)
