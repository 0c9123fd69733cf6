"""The CLI's HTTP client: the CLI is a client of the durable backend, not its owner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from core.config import get_settings

err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a message for a person and return the exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}")  # a "[/x]" in a name is not markup
    return typer.Exit(code)


def run_path(run_id: str, tail: str = "") -> str:
    """The API path of a run: the id is one path segment whatever it holds (``../x`` too)."""
    if not run_id.strip():
        raise fail("give a run id (`baton runs` lists yours)")
    return f"/runs/{quote(run_id, safe='')}{tail}"


def _detail(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail", resp.text)
    except (ValueError, AttributeError):
        detail = resp.text
    return f"{resp.status_code}: {detail if isinstance(detail, str) else json.dumps(detail)}"


class Client:
    """Calls the run API with the configured URL and API key."""

    def __init__(self, url: str | None = None, api_key: str | None = None) -> None:
        s = get_settings()
        self.url = (url or s.url).rstrip("/")
        key = api_key or s.api_key
        if not key:
            raise fail("no API key: set BATON_API_KEY (create one with `baton keys create`)", 2)
        try:
            self.http = httpx.Client(
                base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
        except httpx.InvalidURL as exc:
            raise fail(f"BATON_URL {self.url!r} is not a valid URL ({exc})", 2) from None

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; a refusal or an unreachable server becomes a clear message and exit 1."""
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise fail(
                f"cannot reach Baton at {self.url} ({exc}); is `baton serve` running?"
            ) from None
        if resp.status_code >= 400:
            raise fail(_detail(resp))
        try:
            return resp.json()
        except ValueError:
            raise fail(
                f"{self.url} answered {resp.status_code} without JSON; is BATON_URL a Baton server?"
            ) from None

    def stream_events(self, run_id: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """Follow a run's server-sent events until the server ends the stream."""
        headers = {"Accept": "text/event-stream"}
        try:
            with self.http.stream(
                "GET",
                run_path(run_id, "/events"),
                params={"after": after},
                headers=headers,
                timeout=httpx.Timeout(30, read=None),
            ) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise fail(_detail(resp))
                for line in resp.iter_lines():
                    if line.startswith("data:"):
                        try:
                            yield json.loads(line[5:].strip())
                        except ValueError:
                            raise fail(f"{self.url} sent an event that is not JSON") from None
        except httpx.TransportError as exc:
            raise fail(f"lost the event stream from {self.url} ({exc})") from None
