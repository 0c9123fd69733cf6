"""The CLI's HTTP client: the CLI is a client of the durable backend, not its owner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import typer
from rich.console import Console

from core.config import get_settings

err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a message for a person and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


class Client:
    """Calls the run API with the configured URL and API key."""

    def __init__(self, url: str | None = None, api_key: str | None = None) -> None:
        s = get_settings()
        self.url = (url or s.url).rstrip("/")
        key = api_key or s.api_key
        if not key:
            raise fail("no API key: set BATON_API_KEY (create one with `baton keys create`)", 2)
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; a refusal or an unreachable server becomes a clear message and exit 1."""
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise fail(
                f"cannot reach Baton at {self.url} ({exc}); is `baton serve` running?"
            ) from None
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
            raise fail(
                f"{resp.status_code}: {detail if isinstance(detail, str) else json.dumps(detail)}"
            )
        return resp.json()

    def stream_events(self, run_id: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """Follow a run's server-sent events until the server ends the stream."""
        headers = {"Accept": "text/event-stream"}
        try:
            with self.http.stream(
                "GET",
                f"/runs/{run_id}/events",
                params={"after": after},
                headers=headers,
                timeout=httpx.Timeout(30, read=None),
            ) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise fail(f"{resp.status_code}: {resp.text}")
                for line in resp.iter_lines():
                    if line.startswith("data:"):
                        yield json.loads(line[5:].strip())
        except httpx.TransportError as exc:
            raise fail(f"lost the event stream from {self.url} ({exc})") from None
