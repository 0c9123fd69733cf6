"""Every BATON_* setting, read in one place.

Each field maps to an environment variable named ``BATON_<FIELD>``; the README's configuration
table lists them with their defaults. Nothing else in Baton reads the environment directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide configuration (environment variables with the BATON_ prefix)."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="SQLite file, blobs, weights")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/baton.db"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(default=None, description="Public base URL for links/TwiML")

    # run limits (per run; a run may ask for lower ones)
    max_goal_chars: int = 8000
    max_message_chars: int = 8000
    max_steps: int = 50
    max_tool_calls: int = 30
    max_wall_seconds: int = 3600

    # workers
    lease_ttl_seconds: float = 30.0
    worker_poll_seconds: float = 0.2
    worker_concurrency: int = 2

    # agent: "gateway" (models/ via litellm) or "scripted" (deterministic, tests/bench)
    agent: str = "gateway"

    # surfaces
    plugins: str = Field(default="*", description="Comma list of plugins to load, * for all")

    # --- models (issue 3): add model-layer settings below this line ---

    # --- tools (issue 4): add tool-layer settings below this line ---

    # --- voice (issue 5): add voice settings below this line ---

    # --- handoff (issue 6): add handoff settings below this line ---

    # --- memory (issue 7): add memory/context settings below this line ---

    def resolved_database_url(self) -> str:
        """The database URL in use: BATON_DATABASE_URL, else an SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'baton.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
