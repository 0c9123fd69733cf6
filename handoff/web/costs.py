"""/app/costs: the signed-in person's model spend, rendered on the server (no script).

Only a full sign-in (an API key's session) sees it: a deep link opens one run, not the spend of
all of them. Everything shown comes from core's cost service and is escaped.
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.api.deps import RuntimeDep, identity_dep
from core.costs.service import CostReport, GroupBy, cost_window, spend_by
from core.ids import utcnow
from core.store.db import reader
from handoff.links import WEB_PREFIX
from handoff.web.routes import CSP
from handoff.web.session import run_limit

pages = APIRouter(prefix=WEB_PREFIX, include_in_schema=False)
DAYS = (1, 7, 30, 90)
GROUPS = {
    GroupBy.MODEL: "Model",
    GroupBy.RUN: "Run",
    GroupBy.TOOL: "Tool",
    GroupBy.TASK_TYPE: "Task",
}
PageGroup = Literal["model", "run", "tool", "task_type"]


@pages.get("/costs")
def costs_page(
    request: Request,
    rt: RuntimeDep,
    days: Annotated[int, Query(ge=1, le=366, description="The last this many days")] = 30,
    group_by: Annotated[PageGroup, Query(description="What one line sums over")] = "model",
) -> Response:
    """Your model spend over the last ``days`` days, grouped by model, run, tool or task."""
    try:
        who = identity_dep(request, rt, None)
    except HTTPException:
        who = None
    if who is None or run_limit(request) is not None:
        return RedirectResponse(f"{WEB_PREFIX}/", status_code=303)
    group = GroupBy(group_by)
    until = utcnow()
    since, until = cost_window(until - timedelta(days=days), until)
    with reader(rt.engine).connect() as conn:
        report = spend_by(conn, who.tenant_id, who.user_id, group, since, until)
    return HTMLResponse(
        _page(report, days),
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


def _link(days: int, group: GroupBy, label: str, current: bool) -> str:
    href = f"{WEB_PREFIX}/costs?{urlencode({'days': days, 'group_by': group.value})}"
    attrs = ' class="badge s-completed" aria-current="page"' if current else ' class="badge"'
    return f'<a{attrs} href="{html.escape(href)}">{html.escape(label)}</a>'


def _rows(report: CostReport) -> str:
    cells = []
    for line in report.lines:
        if line.key is None:
            key = "(no tool)" if report.group_by is GroupBy.TOOL else "(none)"
        elif report.group_by is GroupBy.RUN:
            href = f"{WEB_PREFIX}/runs/{quote(line.key, safe='')}"
            key = f'<a href="{html.escape(href)}">{html.escape(line.key)}</a>'
        else:
            key = html.escape(line.key)
        cells.append(
            f"<tr><td>{key}</td><td>{line.calls}</td>"
            f"<td>{line.input_tokens + line.output_tokens}</td><td>${line.cost_usd:.4f}</td></tr>"
        )
    return "".join(cells)


def _page(report: CostReport, days: int) -> str:
    spans = " ".join(
        _link(d, report.group_by, f"{d} day{'s' if d > 1 else ''}", d == days) for d in DAYS
    )
    groups = " ".join(_link(days, g, label, g is report.group_by) for g, label in GROUPS.items())
    label = GROUPS[report.group_by]
    table = (
        f'<div class="table-wrap"><table data-testid="costs"><thead><tr><th>{label}</th>'
        f"<th>Calls</th><th>Tokens</th><th>USD</th></tr></thead>"
        f"<tbody>{_rows(report)}</tbody></table></div>"
        if report.lines
        else '<p class="muted" data-testid="no-costs">No model calls in this period.</p>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>Spend · Baton</title><link rel="stylesheet" href="{WEB_PREFIX}/static/app.css">'
        '</head><body><header class="bar">'
        f'<a class="brand" href="{WEB_PREFIX}/">Baton</a>'
        f'<a class="nav" href="{WEB_PREFIX}/contacts">Contacts</a>'
        f'<a class="nav" href="{WEB_PREFIX}/costs">Costs</a></header>'
        "<main><h1>Your model spend</h1>"
        f'<p class="card" data-testid="total"><strong>${report.total_usd:.4f}</strong> '
        f"in {report.total_calls} model call{'s' if report.total_calls != 1 else ''} "
        f'<span class="muted">over the last {days} day{"s" if days > 1 else ""}</span></p>'
        f'<p class="row buttons">{spans}</p><p class="row buttons">{groups}</p>'
        f"{table}</main></body></html>"
    )
