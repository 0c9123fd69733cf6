"""`baton costs`: your model spend over a time window, grouped one way (through the API)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.cli.client import Client
from core.costs.service import GroupBy

out = Console(soft_wrap=True)
NO_GROUP = {GroupBy.TOOL: "(no tool)"}


def _table(report: dict[str, Any]) -> Table:
    group = GroupBy(report["group_by"])
    table = Table(group.value, "calls", "tokens in", "tokens out", "USD", box=None)
    for line in report["lines"]:
        key = line["key"] if line["key"] is not None else NO_GROUP.get(group, "(none)")
        table.add_row(
            escape(key),
            str(line["calls"]),
            str(line["input_tokens"]),
            str(line["output_tokens"]),
            f"{line['cost_usd']:.6f}",
        )
    return table


def costs_cmd(
    since: Annotated[
        str | None, typer.Option(help="Start, ISO 8601 (default: 30 days before --until)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End, ISO 8601 (default: now)")] = None,
    group_by: Annotated[GroupBy, typer.Option(help="What one line sums over")] = GroupBy.MODEL,
    tenant: Annotated[
        bool, typer.Option("--tenant", help="Every user of your tenant (needs the admin scope)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Your model spend, most expensive first (times without a zone are UTC)."""
    params = {"group_by": group_by.value, "scope": "tenant" if tenant else "user"}
    params.update({k: v for k, v in (("since", since), ("until", until)) if v is not None})
    report = Client().request("GET", "/costs", params=params)
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    who = f"tenant {report['tenant_id']}" if tenant else f"user {report['user_id']}"
    out.print(
        f"{escape(who)}: {report['total_usd']:.6f} USD in {report['total_calls']} model calls, "
        f"{report['since']} to {report['until']}"
    )
    if report["lines"]:
        out.print(_table(report))
