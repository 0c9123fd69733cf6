"""`baton memories`: see and correct what Baton remembers about you (through the API)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from core.cli.client import Client, fail

memories_app = typer.Typer(no_args_is_help=True, help="What Baton remembers about you.")
out = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
TYPES = ("preference", "fact", "relationship", "procedure", "episode")


def _emit(data: Any, as_json: bool) -> bool:
    if as_json:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
    return as_json


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("id", "type", "status", "content", "conf", "pin", box=None)
    for m in rows:
        table.add_row(
            m["memory_id"],
            m["type"],
            m["status"],
            m["content"],
            f"{m['confidence']:.2f}",
            "*" if m["pinned"] else "",
        )
    return table


def _show(memory: dict[str, Any], as_json: bool) -> None:
    if _emit(memory, as_json):
        return
    out.print(f"[bold]{memory['memory_id']}[/] {memory['type']} ({memory['status']})")
    out.print(memory["content"])
    out.print(
        f"[dim]subject {memory['subject']} · scope {memory['scope']} · confidence "
        f"{memory['confidence']:.2f} · from run {memory['source_run_id']} · "
        f"expires {memory['expires_at'] or 'never'}{' · pinned' if memory['pinned'] else ''}[/]"
    )


@memories_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help="active or pending")] = None,
    type_: Annotated[str | None, typer.Option("--type", help=f"One of {', '.join(TYPES)}")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List your memories (pinned first, then newest)."""
    params = {k: v for k, v in {"status": status, "type": type_}.items() if v}
    rows = Client().request("GET", "/memories", params=params)
    if not _emit(rows, as_json):
        out.print(_table(rows) if rows else "No memories.")


@memories_app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to recall")], as_json: JsonOpt = False
) -> None:
    """Show what the assistant would recall for a request."""
    rows = Client().request("GET", "/memories/search", params={"q": query})
    if not _emit(rows, as_json):
        out.print(_table(rows) if rows else "Nothing relevant remembered.")


@memories_app.command()
def show(memory_id: str, as_json: JsonOpt = False) -> None:
    """Show one memory and where it came from."""
    _show(Client().request("GET", f"/memories/{memory_id}"), as_json)


@memories_app.command()
def edit(
    memory_id: str,
    content: Annotated[str | None, typer.Option(help="New wording")] = None,
    subject: Annotated[str | None, typer.Option(help="Who or what it is about")] = None,
    type_: Annotated[str | None, typer.Option("--type", help=f"One of {', '.join(TYPES)}")] = None,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="Keep it for good")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Correct a memory."""
    body: dict[str, Any] = {
        k: v for k, v in {"content": content, "subject": subject, "type": type_}.items() if v
    }
    if no_expiry:
        body["clear_expiry"] = True
    if not body:
        raise fail("nothing to change: give --content, --subject, --type or --no-expiry", 2)
    _show(Client().request("PATCH", f"/memories/{memory_id}", json=body), as_json)


@memories_app.command()
def delete(
    memory_id: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
) -> None:
    """Delete a memory for good."""
    if not yes and not typer.confirm(f"Delete {memory_id} for good?"):
        raise typer.Exit(1)
    Client().request("DELETE", f"/memories/{memory_id}")
    out.print(f"deleted {memory_id}")


@memories_app.command()
def pin(memory_id: str) -> None:
    """Pin a memory: it ranks higher and never expires."""
    Client().request("PUT", f"/memories/{memory_id}/pin", json={"pinned": True})
    out.print(f"pinned {memory_id}")


@memories_app.command()
def unpin(memory_id: str) -> None:
    """Unpin a memory."""
    Client().request("PUT", f"/memories/{memory_id}/pin", json={"pinned": False})
    out.print(f"unpinned {memory_id}")


@memories_app.command()
def confirm(memory_id: str) -> None:
    """Say yes to a memory waiting for confirmation."""
    Client().request("POST", f"/memories/{memory_id}/confirm", json={"accept": True})
    out.print(f"confirmed {memory_id}")


@memories_app.command()
def reject(memory_id: str) -> None:
    """Say no to a memory waiting for confirmation (it is deleted)."""
    Client().request("POST", f"/memories/{memory_id}/confirm", json={"accept": False})
    out.print(f"rejected {memory_id}")


@memories_app.command()
def forget(run_id: Annotated[str, typer.Argument(help="The run that used the memory")]) -> None:
    """Forget the memory a run used last ("forget that")."""
    gone = Client().request("POST", "/memories/forget-last-used", json={"run_id": run_id})
    if not gone["deleted"]:
        raise fail(f"run {run_id} used no memory of yours")
    out.print(f"forgot {gone['memory_id']}: {gone['content']}")
