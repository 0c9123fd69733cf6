"""`baton keys vapid` and `baton push deliver`."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from core.config import get_settings
from handoff.config import get_handoff_settings
from handoff.push.vapid import create_vapid_key, vapid_key_path

push_app = typer.Typer(no_args_is_help=True, help="Push notifications (FCM, Web Push).")


def keys_vapid(
    path: Annotated[Path | None, typer.Option(help="Where to write the private key (PEM)")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing key")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create the VAPID key pair for Web Push; prints the public key browsers subscribe with."""
    target = path or vapid_key_path(get_settings(), get_handoff_settings())
    try:
        public = create_vapid_key(target, force=force)
    except FileExistsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: cannot write {target}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps({"private_key_file": str(target), "public_key": public}) + "\n")
    else:
        typer.echo(f"VAPID private key: {target}")
        typer.echo(f"applicationServerKey: {public}")


@push_app.command("deliver")
def push_deliver(
    once: Annotated[bool, typer.Option(help="Deliver what is due, then exit")] = False,
) -> None:
    """Deliver queued notifications (serve and worker do this too when push is set up)."""
    from core.runtime import get_runtime
    from handoff.push.service import delivery_from_settings

    rt = get_runtime()
    delivery = delivery_from_settings(rt.engine, rt.settings, get_handoff_settings())
    if not delivery.senders:
        typer.echo(
            "error: no sender is set up (BATON_FCM_SERVICE_ACCOUNT_FILE, `baton keys vapid`)",
            err=True,
        )
        raise typer.Exit(1)
    if once:
        report = delivery.run_once()
        typer.echo(
            json.dumps(
                {
                    "delivered": report.delivered,
                    "retried": report.retried,
                    "failed": report.failed,
                    "dropped": report.dropped,
                }
            )
        )
        return
    stop = threading.Event()
    try:
        delivery.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


def install(typer_app: typer.Typer) -> None:
    """Add `keys vapid` to the core's `keys` group and the `push` group to the CLI."""
    keys_group = next(
        (g.typer_instance for g in typer_app.registered_groups if g.name == "keys"), None
    )
    if keys_group is None:
        keys_group = typer.Typer(no_args_is_help=True, help="API keys (and push keys).")
        typer_app.add_typer(keys_group, name="keys")
    keys_group.command("vapid")(keys_vapid)
    typer_app.add_typer(push_app, name="push")
