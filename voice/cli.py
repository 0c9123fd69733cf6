"""`baton phones`: which phone numbers speak for which users."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from core.errors import BatonError

phones_app = typer.Typer(no_args_is_help=True, help="Phone numbers linked to users (callers).")
out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _engine():  # type: ignore[no-untyped-def]
    from core.runtime import get_runtime

    return get_runtime().engine


@phones_app.command("link")
def link(
    tenant: Annotated[str, typer.Option(help="Tenant of the user")],
    user: Annotated[str, typer.Option(help="User the number speaks for (created if new)")],
    number: Annotated[str, typer.Option(help="Caller's number in E.164, like +15551234567")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Map a caller's number to a user: calls from it run as that user."""
    from voice.identity import link_number

    try:
        row = link_number(_engine(), tenant, user, number)
    except BatonError as exc:
        raise _fail(exc.message) from None
    if as_json:
        sys.stdout.write(json.dumps(row) + "\n")
    else:
        out.print(f"{row['number']} -> {row['tenant_id']}/{row['user_id']}")


@phones_app.command("unlink")
def unlink(
    number: Annotated[str, typer.Option(help="The linked number")],
) -> None:
    """Remove a number's link; calls from it become guest calls."""
    from voice.identity import unlink_number

    try:
        row = unlink_number(_engine(), number)
    except BatonError as exc:
        raise _fail(exc.message) from None
    out.print(f"unlinked {row['number']} (was {row['tenant_id']}/{row['user_id']})")


@phones_app.command("list")
def list_links(
    tenant: Annotated[str, typer.Option(help="Tenant")],
    user: Annotated[str | None, typer.Option(help="Only this user's numbers")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The numbers linked to users of a tenant."""
    from voice.identity import list_numbers

    rows = list_numbers(_engine(), tenant, user)
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for row in rows:
        out.print(f"{row['number']} -> {row['tenant_id']}/{row['user_id']}")
    if not rows:
        out.print("no linked numbers")
