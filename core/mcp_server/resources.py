"""The MCP resources: a run, its events and its artifacts, each read in the caller's scope.

URIs: ``baton://runs/{run_id}`` (the run as the REST API shows it), ``.../events`` (its
audit trail, oldest first) and ``.../artifacts`` (what it produced). All three change when
the run does, so a subscription to any of them is a subscription to the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio.to_thread
from mcp_types import Resource, ResourceTemplate

from core.api.schemas import EventOut, RunOut
from core.artifacts.service import list_artifacts
from core.auth.keys import Identity
from core.errors import NotFound
from core.mcp_server.tools import run_view
from core.runs.notify import Subscription
from core.runs.service import RunStore

MIME = "application/json"
_URI = re.compile(r"baton://runs/(?P<run_id>[A-Za-z0-9_-]{1,64})(?:/(?P<part>events|artifacts))?")
MAX_EVENTS = 5000
_ARTIFACT_FIELDS = (
    "artifact_id", "run_id", "name", "kind", "content_type", "size_bytes", "checksum", "created_at",
)  # fmt: skip

TEMPLATES = [
    ResourceTemplate(
        name="run",
        uri_template="baton://runs/{run_id}",
        description="A run: status, result and pending approval",
        mime_type=MIME,
    ),
    ResourceTemplate(
        name="run-events",
        uri_template="baton://runs/{run_id}/events",
        description="A run's events (its audit trail), oldest first",
        mime_type=MIME,
    ),
    ResourceTemplate(
        name="run-artifacts",
        uri_template="baton://runs/{run_id}/artifacts",
        description="The artifacts a run produced, oldest first",
        mime_type=MIME,
    ),
]


@dataclass(frozen=True)
class RunResource:
    """One resource of one run."""

    run_id: str
    part: Literal["run", "events", "artifacts"]


def parse(uri: str) -> RunResource:
    """The run resource ``uri`` names; NotFound when it names none."""
    m = _URI.fullmatch(uri)
    if m is None:
        raise NotFound(f"no resource '{uri}'; try baton://runs/{{run_id}}[/events|/artifacts]")
    part = m.group("part") or "run"
    return RunResource(m.group("run_id"), part)  # type: ignore[arg-type]


def read(store: RunStore, who: Identity, ref: RunResource) -> str:
    """The resource as JSON text; NotFound unless the run is the caller's."""
    body: Any
    if ref.part == "run":
        body = run_view(store, who, store.get_run(who.tenant_id, who.user_id, ref.run_id))
    elif ref.part == "events":
        rows = store.events(who.tenant_id, who.user_id, ref.run_id, limit=MAX_EVENTS)
        body = [EventOut(**r).model_dump(mode="json") for r in rows]
    else:
        store.get_run(who.tenant_id, who.user_id, ref.run_id)
        rows = list_artifacts(
            store.engine, tenant_id=who.tenant_id, user_id=who.user_id, run_id=ref.run_id
        )
        body = [{k: r[k] for k in _ARTIFACT_FIELDS} for r in rows]
    return json.dumps(body, default=str)


def listing(store: RunStore, who: Identity, limit: int = 50) -> list[Resource]:
    """The caller's newest runs as resources."""
    return [
        Resource(
            name=run.run_id,
            uri=f"baton://runs/{run.run_id}",
            description=f"{run.status}: {run.goal[:120]}",
            mime_type=MIME,
        )
        for run in (RunOut.of(r) for r in store.list_runs(who.tenant_id, who.user_id, None, limit))
    ]


async def subscribe(store: RunStore, run_id: str) -> Subscription:
    """Wake-ups for the run's changes, effective once this returns."""
    return await anyio.to_thread.run_sync(store.watch, [run_id])


async def forward(sub: Subscription, on_change: Callable[[], Awaitable[None]]) -> None:
    """Call ``on_change`` after each change ``sub`` hears, until cancelled; then close ``sub``.

    Changes that commit while ``on_change`` runs are folded into one more call.
    """
    with sub:
        while True:
            if await sub.changed(None):
                await on_change()
