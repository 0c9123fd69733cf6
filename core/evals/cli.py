"""`baton eval` (release-gate suites) and `baton replay` (re-decide a recorded run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from core.cli.client import fail
from core.errors import BatonError

out = Console(soft_wrap=True)


def eval_command(
    suites: Annotated[
        list[str] | None,
        typer.Argument(help="Suite names (in core/evals/suites) or files; default: all"),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A few cases per suite, without model inference")
    ] = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report to this file")
    ] = None,
) -> None:
    """Run eval suites; exit 1 when a suite's pass rate is below its gate."""
    from core.evals.report import CaseResult, Report
    from core.evals.runner import run_suites
    from core.evals.suite import SuiteError, find_suites

    try:
        found = find_suites(list(suites or []))
    except SuiteError as exc:
        raise fail(str(exc), 2) from None

    def progress(suite: str, case: CaseResult) -> None:
        if not case.passed:
            out.print(f"[red]FAIL[/] {escape(suite)}/{escape(case.id)}", highlight=False)

    try:
        report: Report = run_suites(found, quick=quick, progress=progress)
    except SuiteError as exc:
        raise fail(str(exc), 2) from None
    if json_file is not None:
        try:
            json_file.write_text(json.dumps(report.as_json(), indent=2) + "\n")
        except OSError as exc:
            raise fail(f"cannot write {json_file}: {exc.strerror}") from None
    out.print(_summary(report))
    for s in report.suites:
        for case in s.cases:
            for reason in case.reasons if not case.passed else []:
                out.print(f"  [red]{escape(s.suite)}/{escape(case.id)}[/]: {escape(reason)}")
    failed = [s for s in report.suites if not s.gate_passed]
    for s in failed:
        out.print(f"[bold red]gate failed:[/] {escape(s.suite)}: {escape(s.gate_reason())}")
    if failed:
        raise typer.Exit(1)
    out.print("[bold green]all gates pass[/]")


def _summary(report: object) -> Table:
    from core.evals.report import Report

    assert isinstance(report, Report)
    table = Table("suite", "kind", "passed", "rate", "threshold", "gate", title="baton eval")
    for s in report.suites:
        table.add_row(
            escape(s.suite),
            s.kind.value,
            f"{s.passed_cases}/{len(s.cases)}",
            f"{s.pass_rate:.0%}",
            f"{s.threshold:.0%}",
            "[green]pass[/]" if s.gate_passed else "[red]fail[/]",
        )
    return table


def replay_command(
    run_id: Annotated[str, typer.Argument(help="The recorded run to re-decide")],
    model: Annotated[
        str | None, typer.Option("--model", help="Decide with this configured model instead")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant of the run (default: BATON_API_KEY's)")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="User of the run (default: BATON_API_KEY's)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Re-decide a recorded run's steps with the current agent and show what changed.

    Tools are not called: every step gets the tool results the run recorded. Exits 0 with the
    comparison (also when decisions differ) and 1 when the run cannot be replayed.
    """
    import asyncio

    from core.agent.factory import ModelConfigError, build_agent
    from core.auth.keys import user_scopes
    from core.evals.replay import Replayer, read_only_engine, with_model
    from core.runtime import get_runtime

    if not run_id.strip():
        raise fail("give a run id (`baton runs` lists yours)")
    rt = get_runtime()
    tenant, user = _identity(rt.engine, rt.settings.api_key, tenant, user)
    try:
        settings = with_model(rt.settings, model) if model else rt.settings
    except BatonError as exc:
        raise fail(exc.message) from None
    readonly = read_only_engine(settings.resolved_database_url())
    try:
        agent = build_agent(settings, readonly)
        replayer = Replayer(
            rt.engine, agent, rt.gate, user_scopes(rt.engine, tenant, user), settings
        )
        steps = asyncio.run(replayer.replay(tenant, user, run_id))
    except BatonError as exc:
        raise fail(exc.message) from None
    except ModelConfigError as exc:
        raise fail(str(exc), 2) from None
    finally:
        readonly.dispose()
        rt.close_tools()
    if as_json:
        typer.echo(json.dumps([s.as_json() for s in steps], default=str))
        return
    if not steps:
        out.print(f"run {escape(run_id)} recorded no decisions")
        return
    table = Table("step", "recorded decision", "replayed decision", "same?", title=run_id)
    for s in steps:
        if s.replayed is not None:
            replayed = _said(s.replayed)
        else:
            replayed = f"[red]{escape(s.error or 'no decision')}[/]"
        table.add_row(
            str(s.step),
            _said(s.recorded),
            replayed,
            "[green]yes[/]" if s.same else "[red]no[/]",
        )
    out.print(table)
    differ = sum(not s.same for s in steps)
    out.print(f"{len(steps) - differ}/{len(steps)} decisions reproduced")


def _identity(
    engine: Engine, api_key: str | None, tenant: str | None, user: str | None
) -> tuple[str, str]:
    """The tenant and user whose run is replayed: the options, else the API key's owner."""
    from core.auth.keys import verify_key

    if tenant and user:
        return tenant, user
    if tenant or user:
        raise fail("give both --tenant and --user, or neither (BATON_API_KEY's owner)")
    if not api_key:
        raise fail("no user: give --tenant and --user, or set BATON_API_KEY")
    who = verify_key(engine, api_key)
    if who is None:
        raise fail("BATON_API_KEY is not a valid key in this database")
    return who.tenant_id, who.user_id


def _said(decision: dict[str, object]) -> str:
    """One decision in a few words: the tool and arguments, or what was said."""
    kind = decision.get("type")
    if kind == "tool_call":
        args = json.dumps(decision.get("arguments") or {}, default=str)
        return escape(f"{decision.get('tool')} {args}")
    text = decision.get("message") or decision.get("question") or decision.get("content") or ""
    return escape(f"{kind}: {text}")
