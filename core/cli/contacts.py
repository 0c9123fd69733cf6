"""`baton contacts`: your address book — list, add, remove, import vCards (through the API)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.cli.client import Client, fail

contacts_app = typer.Typer(no_args_is_help=True, help="Your address book.")
out = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _emit(data: Any, as_json: bool) -> bool:
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
    return as_json


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("id", "name", "email", "phone", "aliases", box=None)
    for c in rows:
        table.add_row(
            c["contact_id"],
            escape(c["name"]),
            escape(c["email"] or ""),
            escape(c["phone"] or ""),
            escape(", ".join(c["aliases"])),
        )
    return table


def _path(contact_id: str) -> str:
    return f"/contacts/{quote(contact_id, safe='')}"


@contacts_app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """List your contacts by name."""
    rows = Client().request("GET", "/contacts")
    if not _emit(rows, as_json):
        out.print(_table(rows) if rows else "No contacts.")


@contacts_app.command()
def add(
    name: Annotated[str, typer.Argument(help="Full name, as you would say it")],
    email: Annotated[str | None, typer.Option(help="Email address")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number")] = None,
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="A nickname (repeat for several)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a contact."""
    body = {"name": name, "email": email, "phone": phone, "aliases": alias or []}
    made = Client().request(
        "POST", "/contacts", json=body, headers={"Idempotency-Key": f"cli-{uuid.uuid4()}"}
    )
    if not _emit(made, as_json):
        out.print(f"added {escape(made['name'])} ({made['contact_id']})")


def _find(client: Client, who: str) -> dict[str, Any]:
    """The contact with this id, or the one whose name is ``who`` (any case)."""
    rows: list[dict[str, Any]] = client.request("GET", "/contacts")
    by_id = [c for c in rows if c["contact_id"] == who]
    named = by_id or [c for c in rows if c["name"].casefold() == " ".join(who.split()).casefold()]
    if not named:
        raise fail(f"no contact with the id or name {who!r} (`baton contacts list` shows them)")
    if len(named) > 1:
        ids = ", ".join(c["contact_id"] for c in named)
        raise fail(f"{len(named)} contacts are called {who!r}: remove one by id ({ids})")
    return named[0]


@contacts_app.command()
def remove(
    contact: Annotated[str, typer.Argument(help="Contact id or full name")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
) -> None:
    """Remove a contact."""
    client = Client()
    found = _find(client, contact)
    label = f"{found['name']} ({found['contact_id']})"
    if not yes and not typer.confirm(f"Remove {label}?"):
        raise typer.Exit(1)
    client.request("DELETE", _path(found["contact_id"]))
    out.print(f"removed {escape(label)}")


@contacts_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="A vCard file (.vcf), as phones export them")],
    as_json: JsonOpt = False,
) -> None:
    """Import a vCard file: new people are added, people whose email you have are updated."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from None
    report = Client().request(
        "POST", "/contacts/import", content=data, headers={"Content-Type": "text/vcard"}
    )
    if not _emit(report, as_json):
        out.print(f"added {len(report['created'])}, updated {len(report['updated'])}")
        for contact in report["created"] + report["updated"]:
            out.print(f"  {escape(contact['name'])} ({contact['contact_id']})")
