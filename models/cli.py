"""`baton models`: every role's model, where it comes from, its size and whether it loads.

The app is built around a callback that returns the gateway configuration and data dir,
so this module stays free of the core (the core maps its Settings and mounts the app).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from models.config import GatewayConfig, ModelSpec
from models.inventory import describe_all

ContextLoader = Callable[[], tuple[GatewayConfig, Path, bool]]


def _human(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _routes_of(config: GatewayConfig, name: str) -> str:
    tasks = [t for t, route in config.routes.items() if name in route]
    return ", ".join(tasks) if tasks else "*"


async def _probe_hosted(spec: ModelSpec) -> str | None:
    """None when a one-token call to a hosted model answers, else the reason."""
    from models.llm_client import litellm

    kwargs: dict[str, Any] = {
        "model": spec.model,
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 1,
        "timeout": min(spec.timeout_s, 15.0),
        "num_retries": 0,
        "max_retries": 0,
    }
    if spec.api_base:
        kwargs["api_base"] = spec.api_base
    if spec.api_key is not None:
        kwargs["api_key"] = spec.api_key.get_secret_value()
    try:
        await litellm.acompletion(**kwargs)
    except Exception as exc:
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    return None


def llm_rows(
    config: GatewayConfig, uses_embedded: bool, load: bool, embedded_loads: bool | None = None
) -> list[dict[str, Any]]:
    """One row per configured LLM (hosted ones are called once when ``load``); the embedded
    server's row carries whether its GGUF loaded."""
    rows: list[dict[str, Any]] = []
    for spec in config.models:
        row: dict[str, Any] = {
            "role": f"llm ({_routes_of(config, spec.name)})",
            "model": spec.model,
            "source": f"litellm -> {spec.api_base or 'provider default'}",
            "path": None,
            "size_bytes": None,
            "loads": None,
            "error": None,
        }
        if load:
            error = asyncio.run(_probe_hosted(spec))
            row["loads"], row["error"] = error is None, error
        rows.append(row)
    if uses_embedded:
        rows.append(
            {
                "role": "llm (all tasks)" if not config.models else "llm (embedded)",
                "model": f"openai/{config.embedded.alias} (embedded llama.cpp via xllamacpp)",
                "source": "llama.cpp server child process, reached through litellm",
                "path": str(config.embedded.model_path) if config.embedded.model_path else None,
                "size_bytes": None,
                "loads": embedded_loads,
                "error": None,
            }
        )
    return rows


def make_app(load_context: ContextLoader) -> typer.Typer:
    """The `baton models` Typer app; ``load_context`` returns (config, data dir, embedded?)."""
    app = typer.Typer(add_completion=False, help="Models and local weights in use.")

    @app.callback(invoke_without_command=True)
    def models(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
        quick: Annotated[
            bool, typer.Option("--quick", help="Check files only; do not load models")
        ] = False,
    ) -> None:
        """List each role, the model in use, its source, size and whether it loads."""
        if ctx.invoked_subcommand is not None:
            return
        try:
            config, data_dir, uses_embedded = load_context()
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        rows = describe_all(data_dir, load=not quick)
        gguf = next((r for r in rows if r["role"] == "llm (embedded)"), None)
        embedded_loads = gguf["loads"] if gguf and not config.embedded.model_path else None
        rows += llm_rows(config, uses_embedded, not quick, embedded_loads)
        if as_json:
            sys.stdout.write(json.dumps(rows) + "\n")
        else:
            table = Table("role", "model", "source", "size", "loads")
            for r in rows:
                ok = "files ok" if quick else "yes"
                loads = "not checked" if r["loads"] is None else (ok if r["loads"] else "NO")
                if r["error"]:
                    loads += f" ({r['error']})"
                table.add_row(r["role"], r["model"], r["source"], _human(r["size_bytes"]), loads)
            # Piped output is read by scripts and people alike: do not fold it at 80 columns.
            Console(width=None if sys.stdout.isatty() else 200).print(table)
        if any(r["loads"] is False for r in rows):
            raise typer.Exit(1)

    return app
