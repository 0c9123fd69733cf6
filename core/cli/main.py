"""`baton`: serve, work, manage keys, and drive runs from a terminal.

Read commands take --json for machine-readable output.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import ArgumentError, OperationalError

from core.cli.client import Client, fail, run_path
from core.cli.contacts import contacts_app
from core.cli.costs import costs_cmd
from core.cli.mcp import mcp_cmd
from core.cli.memories import memories_app
from core.cli.webhooks import webhooks_app
from core.config import get_settings
from core.errors import BatonError
from core.evals.cli import eval_command, replay_command


class _Cli(typer.Typer):
    """The `baton` app: what a person can fix (a BATON_* value, the database, the data folder)
    is told in one line and a non-zero exit, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            # Each package reads its own settings class (Settings, VoiceSettings, ...).
            if not exc.title.endswith("Settings"):
                raise
            raise SystemExit(_said(f"bad configuration: {_config_error(exc)}", 2)) from None
        except SettingsError as exc:
            raise SystemExit(_said(f"bad configuration: {exc}", 2)) from None
        except ArgumentError as exc:
            raise SystemExit(_said(f"BATON_DATABASE_URL is not a database URL: {exc}", 2)) from None
        except OperationalError as exc:
            raise SystemExit(_said(f"cannot use the database: {exc.orig}", 1)) from None
        except BatonError as exc:
            raise SystemExit(_said(exc.message, 1)) from None
        except OSError as exc:  # the data folder cannot be created or written
            raise SystemExit(_said(str(exc), 1)) from None


def _said(message: str, code: int) -> int:
    fail(message)
    return code


def _config_error(exc: ValidationError) -> str:
    return "; ".join(
        f"BATON_{str(e['loc'][0]).upper()}: {e['msg']}" if e["loc"] else e["msg"]
        for e in exc.errors()
    )


app = _Cli(no_args_is_help=True, add_completion=False, help="Baton: runs that outlive the call.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys (and push keys).")
app.add_typer(keys_app, name="keys")
app.add_typer(memories_app, name="memories")
app.add_typer(contacts_app, name="contacts")
app.add_typer(webhooks_app, name="webhooks")
app.command("costs")(costs_cmd)
app.command("mcp")(mcp_cmd)
app.command("eval")(eval_command)
app.command("replay")(replay_command)
out = Console(soft_wrap=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
TERMINAL = {"completed", "failed", "cancelled"}


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
    else:
        out.print(data)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[bool, typer.Option(help="Also execute runs in this process")] = True,
) -> None:
    """Serve the API, the call page and the web view (and execute runs) on embedded defaults."""
    import uvicorn

    from core.api.app import create_app
    from core.runtime import get_runtime

    s = get_settings()
    get_runtime(s)  # a bad database or data folder fails here with a message, not in uvicorn
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(create_app(s, run_workers=workers), host=host or s.host, port=port or s.port)


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Runs worked on at once")] = 0,
) -> None:
    """Execute runs from the database until interrupted (start as many as you like)."""
    from core.plugins import setup_process
    from core.runtime import get_runtime
    from core.webhooks.background import start_background_delivery

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    rt = get_runtime()
    setup_process()
    s = rt.settings
    start_background_delivery(rt.engine, s)
    w = rt.new_worker(concurrency)
    where = s.resolved_database_url().split("@")[-1]
    if s.worker_metrics_port is not None:
        from core.metrics.exposition import serve_process_metrics

        serve_process_metrics(s.host, s.worker_metrics_port)
    out.print(f"baton worker {w.name}: {w.concurrency} slot(s) on {where}")
    try:
        w.run_forever()
    except KeyboardInterrupt:
        w.stop()
    finally:
        rt.close_tools()


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant (created if new)")],
    user: Annotated[str, typer.Option(help="User (created if new)")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="Set the user's scope list (repeat it; e.g. approve, admin, operator, "
            "webhooks:manage). Without it the user keeps their list; a user without a list "
            "holds every ordinary scope and no privileged one.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key for a user; the key is shown once."""
    from core.auth.keys import create_key
    from core.runtime import get_runtime

    try:
        key = create_key(get_runtime().engine, tenant, user, scopes=scope)
    except BatonError as exc:
        raise fail(exc.message) from None
    if as_json:
        _print({"key": key, "tenant": tenant, "user": user, "scopes": scope}, True)
    else:
        out.print(key)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The 16-hex id inside bk_<id>_...")],
    tenant: Annotated[str, typer.Option(help="Tenant of the key")],
) -> None:
    """Revoke an API key."""
    from core.auth.keys import revoke_key
    from core.runtime import get_runtime

    if not revoke_key(get_runtime().engine, tenant, key_id):
        raise fail(f"no active key '{key_id}' in tenant '{tenant}'")
    out.print(f"revoked {key_id}")


def _summary(run: dict[str, Any]) -> str:
    # Escaped: a goal or result holding "[/x]" is text, not Rich markup.
    rid = escape(run["run_id"])
    line = f"[bold]{rid}[/] {run['status']} step {run['current_step']}"
    if run.get("result"):
        line += f"\n{escape(run['result'])}"
    if run.get("failure_reason"):
        line += f"\n[red]{escape(run['failure_reason'])}[/]"
    approval = run.get("pending_approval")
    if approval:
        question = escape(str(approval["question"]))
        line += (
            f"\n[yellow]waiting for approval[/] {escape(approval['approval_id'])}: {question}"
            f"\n  baton approve {rid}   (or --deny)"
        )
    return line


@app.command()
def run(
    goal: Annotated[str, typer.Argument(help="What you want done")],
    follow: Annotated[bool, typer.Option(help="Follow progress until the run rests")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Start a run and follow its progress live."""
    client = Client()
    created = client.request("POST", "/runs", json={"goal": goal, "channel": "cli"})
    if not follow:
        _print(created if as_json else _summary(created), as_json)
        return
    final = _follow(client, created["run_id"], as_json)
    if as_json:
        _print(final, True)
    else:
        out.print(_summary(final))
    if final["status"] in ("failed", "cancelled"):
        raise typer.Exit(1)


def _follow(client: Client, run_id: str, quiet: bool) -> dict[str, Any]:
    for event in client.stream_events(run_id):
        if not quiet:
            out.print(f"[dim]{event['seq']:>4}[/] {event['type']}{_event_note(event)}")
        if event["type"] in (
            "RunCompleted",
            "RunFailed",
            "RunCancelled",
            "ApprovalRequested",
            "HumanInputRequested",
        ):
            break
    return dict(client.request("GET", run_path(run_id)))


def _event_note(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    for key in ("tool", "question", "result", "reason", "text"):
        if data.get(key):
            return f"  {escape(str(data[key])[:120])}"
    return ""


@app.command()
def runs(as_json: JsonOpt = False) -> None:
    """List your runs, newest first."""
    rows = Client().request("GET", "/runs")
    if as_json:
        _print(rows, True)
        return
    for r in rows:
        out.print(f"{escape(r['run_id'])}  {r['status']:<18} {escape(r['goal'][:60])}")


@app.command()
def status(run_id: str, as_json: JsonOpt = False) -> None:
    """Show a run's status, result and pending approval."""
    data = Client().request("GET", run_path(run_id))
    _print(data if as_json else _summary(data), as_json)


@app.command()
def logs(
    run_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print a run's events (the audit trail)."""
    client = Client()
    if follow:
        for event in client.stream_events(run_id):
            _print(
                event if as_json else f"{event['seq']:>4} {event['type']}{_event_note(event)}",
                as_json,
            )
        return
    events = client.request(
        "GET", run_path(run_id, "/events"), headers={"Accept": "application/json"}
    )
    if as_json:
        _print(events, True)
        return
    for e in events:
        out.print(f"[dim]{e['seq']:>4} {e['created_at']}[/] {e['type']}{_event_note(e)}")


@app.command()
def approve(
    run_id: str,
    deny: Annotated[bool, typer.Option("--deny", help="Deny instead of approving")] = False,
    approval: Annotated[
        str | None, typer.Option(help="Approval id (default: the pending one)")
    ] = None,
    args: Annotated[str | None, typer.Option(help="Edited arguments as a JSON object")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve (or --deny) the run's pending tool call."""
    client = Client()
    if approval is None:
        run_data = client.request("GET", run_path(run_id))
        if not run_data.get("pending_approval_id"):
            raise fail(f"run {run_id} is {run_data['status']} and waits for no approval")
        approval = run_data["pending_approval_id"]
    body: dict[str, Any] = {"approval_id": approval, "decision": "deny" if deny else "approve"}
    if args is not None:
        try:
            body["arguments"] = json.loads(args, parse_constant=_no_constant)
        except ValueError as exc:
            raise fail(f"--args is not JSON: {exc}") from None
        if not isinstance(body["arguments"], dict):
            raise fail('--args must be a JSON object, e.g. {"n": 9}')
    data = client.request("POST", run_path(run_id, "/approve"), json=body)
    _print(data if as_json else _summary(data), as_json)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


@app.command()
def cancel(
    run_id: str,
    reason: Annotated[str, typer.Option(help="Why")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Cancel a run."""
    data = Client().request("POST", run_path(run_id, "/cancel"), json={"reason": reason})
    _print(data if as_json else _summary(data), as_json)


@app.command()
def resume(
    run_id: str,
    message: Annotated[str | None, typer.Option(help="Say something to the run")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Resume a cancelled or waiting run."""
    data = Client().request("POST", run_path(run_id, "/resume"), json={"message": message})
    _print(data if as_json else _summary(data), as_json)


def _mount_extras() -> None:
    from core.agent.factory import models_cli_context
    from core.plugins import setup_cli
    from models.cli import make_app as make_models_app

    app.add_typer(make_models_app(lambda: models_cli_context(get_settings())), name="models")
    # Bad BATON_* values: the command that reads them says which, without a traceback.
    with contextlib.suppress(ValidationError, SettingsError):
        setup_cli(app)


_mount_extras()
