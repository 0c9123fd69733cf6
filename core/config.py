"""The core's BATON_* settings, read in one place.

Each field maps to an environment variable named ``BATON_<FIELD>``; the README's configuration
tables list them with their defaults. The voice and handoff packages read their own settings
the same way (``voice/config.py``, ``handoff/config.py``); nothing else in Baton reads the
environment directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide configuration (environment variables with the BATON_ prefix)."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="SQLite file, blobs, weights")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/baton.db"
    )
    host: str = Field(default="127.0.0.1", description="Address `baton serve` binds")
    port: int = Field(default=8000, description="Port `baton serve` listens on")
    public_url: str | None = Field(default=None, description="Public base URL for links/TwiML")
    url: str = Field(default="http://127.0.0.1:8000", description="Server the CLI talks to")
    api_key: str | None = Field(default=None, description="API key the CLI sends")

    # run limits (per run; a run may ask for lower ones)
    max_goal_chars: int = Field(default=8000, description="Longest goal a run accepts")
    max_request_bytes: int = Field(default=1_000_000, description="Largest request body")
    max_message_chars: int = Field(default=8000, description="Longest message to a run")
    max_steps: int = Field(default=50, description="Steps per run before it fails")
    max_tool_calls: int = Field(default=30, description="Tool calls per run before it fails")
    max_wall_seconds: int = Field(default=3600, description="Lifetime of a run in seconds")

    # workers
    lease_ttl_seconds: float = Field(default=30.0, description="Worker lease; taken over after")
    worker_poll_seconds: float = Field(
        default=2.0,
        description="Longest sleep of an idle worker slot; new work and expiring leases wake it",
    )
    worker_concurrency: int = Field(default=2, description="Worker slots per process")

    # metrics
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without an API key (else it needs the operator scope)",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="`baton worker` serves its own latency histograms on this port (unset: off)",
    )

    # agent: "gateway" (models/ via litellm) or "scripted" (deterministic, tests/bench)
    agent: str = Field(default="gateway", description="gateway (models via litellm) or scripted")
    understanding: str = Field(
        default="parser_first",
        description="parser_first: recognised commands are decided without a model; "
        "model_only: every decision goes to the model",
    )

    # surfaces
    plugins: str = Field(default="*", description="Comma list of plugins to load, * for all")

    # --- models ---
    model: str | None = Field(
        default=None,
        description="litellm model for every task (e.g. openai/gpt-4o-mini); unset and no "
        "BATON_MODELS: the embedded SmolLM2-135M on llama.cpp",
    )
    model_api_base: str | None = Field(default=None, description="API base of BATON_MODEL")
    model_api_key: SecretStr | None = Field(default=None, description="API key of BATON_MODEL")
    models: list[dict[str, object]] = Field(
        default=[],
        description='JSON list of models: [{"name": "mini", "model": "openai/gpt-4o-mini", '
        '"api_base": ..., "api_key": ..., "local": false, "input_cost_per_token": ...}]',
    )
    model_routes: dict[str, list[str]] = Field(
        default={},
        description='JSON routing table, cheapest first: {"decision": ["mini", "big"], "*": '
        '["mini"]}; the name "embedded" adds the local llama.cpp model',
    )
    model_timeout_seconds: float = Field(default=30.0, description="Timeout of one model call")
    model_max_attempts: int = Field(
        default=3, description="Model answers tried per step before an invalid one fails it"
    )
    model_breaker_failures: int = Field(
        default=3, description="Consecutive failures that open a model's circuit breaker"
    )
    model_breaker_cooldown_seconds: float = Field(
        default=30.0, description="Open breaker's pause before one trial call"
    )
    model_debug_prompts: bool = Field(
        default=False, description="Log prompts (redacted) at DEBUG; never on by default"
    )
    run_budget_usd: float | None = Field(default=None, description="Model spend limit per run")
    tenant_budget_usd: float | None = Field(
        default=None, description="Model spend limit per tenant over the budget window"
    )
    tenant_budget_window_days: int = Field(
        default=30, description="Rolling window of the tenant budget, in days"
    )
    embedded_llm_gguf: Path | None = Field(
        default=None, description="GGUF for the embedded server; default SmolLM2-135M-Instruct"
    )
    embedded_llm_threads: int = Field(
        default=0, description="llama.cpp threads of the embedded server (0: half the cores)"
    )
    embedded_llm_ctx: int = Field(default=4096, description="Context size of the embedded LLM")

    # --- tools ---
    tool_approval_min_level: int = Field(
        default=3, description="Risk level from which a tool call waits for a human approval"
    )
    tool_approval_policy: dict[str, dict[str, object]] = Field(
        default={},
        description='Per tenant (JSON): {"acme": {"min_level": 2, "require": [], "waive": []}}',
    )
    tool_rate_per_minute: float = Field(
        default=1200.0, description="Calls per minute one tenant may make of one tool (refill)"
    )
    tool_rate_burst: int = Field(
        default=300, description="Calls of one tool one tenant may make at once (bucket size)"
    )
    tool_user_rate_per_minute: float = Field(
        default=120.0, description="Calls per minute one user may make of one tool (refill)"
    )
    tool_user_rate_burst: int = Field(
        default=30, description="Calls of one tool one user may make at once (bucket size)"
    )
    tool_max_deferrals: int = Field(
        default=10,
        ge=0,
        description="Times a rate-limited or paused tool call waits and is retried before the "
        "agent is told it was refused",
    )
    tool_breaker_failures: int = Field(default=5, description="Failures in a row that open it")
    tool_breaker_cooldown_seconds: float = Field(default=30.0, description="Open before a trial")
    smtp_url: str | None = Field(
        default=None, description="smtp://[user:pass@]host:port[?starttls=1] or smtps://..."
    )
    email_from: str = Field(default="baton@localhost", description="From: of email_send")
    http_allowlist: str = Field(default="", description="Hosts http_get may fetch (comma list)")
    http_max_bytes: int = Field(default=500_000, description="Largest page http_get reads")
    calendar_timezone: str = Field(default="UTC", description="Working hours' time zone")
    calendar_day_hours: str = Field(default="09:00-17:00", description="Bookable hours")
    sandbox_bwrap: str = Field(default="bwrap", description="bubblewrap binary for sandbox_run")
    sandbox_cpu_seconds: int = Field(default=10, description="CPU seconds per sandboxed command")
    sandbox_memory_mb: int = Field(default=512, description="Address space per sandboxed process")
    sandbox_wall_seconds: float = Field(default=30.0, description="Wall clock per command")
    sandbox_max_output_bytes: int = Field(default=65536, description="stdout/stderr kept, each")
    mcp_servers: dict[str, dict[str, object]] = Field(
        default={},
        description='MCP servers (JSON): {"name": {"command": "...", "args": []}} or {"url": ...}',
    )
    mcp_connect_timeout_seconds: float = Field(default=20.0, description="MCP start-up wait")
    skills_dirs: str = Field(default="", description="Folders of SKILL.md skills (comma list)")

    # --- artifacts ---
    artifact_max_bytes: int = Field(default=20_000_000, description="Largest artifact accepted")
    blob_dir: Path | None = Field(
        default=None, description="Artifact blobs; default <data_dir>/blobs"
    )

    # --- memory ---
    memory_confirm_types: str = Field(
        default="preference,procedure",
        description="Memory types that wait for the user's yes unless they asked to remember",
    )
    memory_min_confidence: float = Field(default=0.3, description="Proposals below are refused")
    memory_max_chars: int = Field(default=1000, description="Longest memory content")
    memory_duplicate_similarity: float = Field(
        default=0.95, description="Cosine from which a proposal only reinforces a memory"
    )
    memory_merge_similarity: float = Field(
        default=0.75, description="Cosine from which a proposal updates a same-subject memory"
    )
    memory_episode_ttl_days: int = Field(default=30, description="Lifetime of episode memories")
    memory_task_ttl_days: int = Field(default=7, description="Lifetime of task-scoped memories")
    memory_min_relevance: float = Field(
        default=0.35, description="Relevance below which a memory stays out of a context pack"
    )
    memory_context_limit: int = Field(default=5, description="Most memories in one context pack")
    context_default_tokens: int = Field(
        default=4096, description="Context budget in tokens when the model's is unknown"
    )

    # --- tracing: OpenTelemetry spans of every run ---
    tracing: bool = Field(default=True, description="Record a trace of every run (true|false)")
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector (e.g. http://127.0.0.1:4318; /v1/traces is added "
        "unless given): spans go there instead of the local spans table",
    )
    trace_keep_spans: int = Field(
        default=100_000, ge=1, description="Spans the local table keeps; the oldest go first"
    )

    # --- webhooks: signed deliveries of run events to tenants' URLs ---
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time a webhook receiver has to answer one delivery"
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Attempts of one webhook delivery before it fails"
    )
    webhook_disable_after: int = Field(
        default=10,
        ge=1,
        description="Failed webhook deliveries in a row after which the webhook is disabled",
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="Idle interval between looks for due webhook deliveries"
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Deliver webhooks to loopback, private and link-local addresses "
        "(off: a tenant cannot aim Baton at internal services)",
    )

    def resolved_database_url(self) -> str:
        """The database URL in use: BATON_DATABASE_URL, else an SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'baton.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()


_S = TypeVar("_S", bound=BaseSettings)


class ProcessSettings(Generic[_S]):
    """One package's settings for this process: installed ones (tests build their own),
    else the environment's, read once."""

    def __init__(self, cls: type[_S]) -> None:
        self._cls = cls
        self._installed: _S | None = None
        self._from_environment: _S | None = None

    def get(self) -> _S:
        """The installed settings, else the environment's."""
        if self._installed is not None:
            return self._installed
        if self._from_environment is None:
            self._from_environment = self._cls()
        return self._from_environment

    def install(self, settings: _S | None) -> None:
        """Install ``settings`` for this process; None goes back to the environment's."""
        self._installed = settings


def settings_table(cls: type[BaseSettings]) -> str:
    """A README configuration table: every environment variable of ``cls`` (a settings class
    of any package) with its default."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in cls.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if name == "database_url":
            shown = "`sqlite:///<data dir>/baton.db`"
        elif default is None or default == "" or default == {}:
            shown = "(unset)"
        else:
            shown = f"`{default}`"
        # An unescaped "|" in a description ("off|prompt") would split the cell in two.
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{(prefix + name).upper()}` | {shown} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table(Settings))
