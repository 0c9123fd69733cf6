"""`baton webhooks`: the tenant's signed webhooks — add, list, remove, enable, deliveries."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape

from core.cli.client import Client, fail

webhooks_app = typer.Typer(
    no_args_is_help=True, help="Signed webhooks: run events POSTed to your URLs."
)
out = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _emit(data: Any, as_json: bool) -> bool:
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
    return as_json


def _path(webhook_id: str, tail: str = "") -> str:
    if not webhook_id.strip():
        raise fail("give a webhook id (`baton webhooks list` shows them)")
    return f"/webhooks/{quote(webhook_id, safe='')}{tail}"


def _state(w: dict[str, Any]) -> str:
    if w["status"] == "active":
        return "active"
    return f"disabled: {w.get('disabled_reason') or 'no reason recorded'}"


@webhooks_app.command()
def add(
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the POSTs")],
    event: Annotated[
        list[str],
        typer.Option(
            "--event",
            "-e",
            help="run.completed, run.failed, run.waiting_for_approval or artifact.created "
            "(repeat for several)",
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Subscribe a URL to run events of your tenant; prints the signing secret once."""
    made = Client().request(
        "POST",
        "/webhooks",
        json={"url": url, "events": event},
        headers={"Idempotency-Key": f"cli-{uuid.uuid4()}"},
    )
    if not _emit(made, as_json):
        out.print(f"added {made['webhook_id']} -> {escape(made['url'])}")
        out.print(f"signing secret (shown once): {made['secret']}")


@webhooks_app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """List your tenant's webhooks."""
    rows = Client().request("GET", "/webhooks")
    if _emit(rows, as_json):
        return
    if not rows:
        out.print("No webhooks.")
        return
    for w in rows:
        out.print(f"{w['webhook_id']}  {escape(_state(w))}")
        out.print(f"  {escape(w['url'])}")
        out.print(f"  events: {', '.join(w['events'])}")


@webhooks_app.command()
def remove(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete a webhook (deliveries still queued for it are dropped)."""
    client = Client()
    found = client.request("GET", _path(webhook_id))
    if not yes and not typer.confirm(f"Remove {found['webhook_id']} ({found['url']})?"):
        raise typer.Exit(1)
    gone = client.request("DELETE", _path(webhook_id))
    if not _emit(gone, as_json):
        out.print(f"removed {found['webhook_id']}")


@webhooks_app.command()
def enable(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id")],
    as_json: JsonOpt = False,
) -> None:
    """Turn a disabled webhook back on."""
    w = Client().request("POST", _path(webhook_id, "/enable"))
    if not _emit(w, as_json):
        out.print(f"{w['webhook_id']}: {escape(_state(w))}")


@webhooks_app.command()
def deliveries(
    webhook_id: Annotated[str, typer.Argument(help="Webhook id")],
    limit: Annotated[int, typer.Option(min=1, max=500, help="Most entries shown")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """A webhook's delivery log, newest first."""
    rows = Client().request("GET", _path(webhook_id, "/deliveries"), params={"limit": limit})
    if _emit(rows, as_json):
        return
    if not rows:
        out.print("No deliveries yet.")
        return
    for d in rows:
        answer = d["last_error"] or (str(d["last_status_code"]) if d["last_status_code"] else "")
        when = d["delivered_at"] or d["next_attempt_at"] or ""
        out.print(
            f"{d['delivery_id']}  {d['event']}  {d['status']}  attempts={d['attempts']}  "
            f"{escape(answer)}  {when}".rstrip()
        )
