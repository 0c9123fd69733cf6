"""Artifacts over HTTP: list a run's artifacts, read one, download its bytes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from core.api.deps import IdentityDep, RuntimeDep
from core.artifacts.service import get_artifact, list_artifacts, read_artifact_data
from core.runs.service import RunStore
from handoff.web.render import INLINE_IMAGES
from handoff.web.session import ensure_run_allowed

router = APIRouter(tags=["artifacts"])
_PUBLIC = ("artifact_id", "run_id", "name", "kind", "content_type", "size_bytes", "checksum")


def public_artifact(row: dict[str, Any]) -> dict[str, Any]:
    """An artifact as the API shows it."""
    out = {k: row[k] for k in _PUBLIC}
    out["created_at"] = row["created_at"]
    out["content_url"] = f"/artifacts/{row['artifact_id']}/content"
    return out


@router.get("/runs/{run_id}/artifacts")
def run_artifacts(run_id: str, request: Request, who: IdentityDep, rt: RuntimeDep) -> Any:
    """The run's artifacts, oldest first."""
    ensure_run_allowed(request, run_id)
    RunStore(rt.engine, rt.settings).get_run(
        who.tenant_id, who.user_id, run_id
    )  # 404 if not theirs
    rows = list_artifacts(rt.engine, tenant_id=who.tenant_id, user_id=who.user_id, run_id=run_id)
    return [public_artifact(r) for r in rows]


@router.get("/artifacts/{artifact_id}")
def artifact(artifact_id: str, request: Request, who: IdentityDep, rt: RuntimeDep) -> Any:
    """One artifact's metadata."""
    row = get_artifact(
        rt.engine, tenant_id=who.tenant_id, user_id=who.user_id, artifact_id=artifact_id
    )
    ensure_run_allowed(request, row["run_id"])
    return public_artifact(row)


@router.get("/artifacts/{artifact_id}/content")
def artifact_content(
    artifact_id: str, request: Request, who: IdentityDep, rt: RuntimeDep, inline: bool = False
) -> Response:
    """The artifact's bytes, checked against their checksum.

    Served as a download in a sandbox: an agent-written HTML or SVG file must never run as a
    page of this origin. Only plain raster images may be shown inline.
    """
    meta = get_artifact(
        rt.engine, tenant_id=who.tenant_id, user_id=who.user_id, artifact_id=artifact_id
    )
    ensure_run_allowed(request, meta["run_id"])
    meta, data = read_artifact_data(
        rt.engine,
        tenant_id=who.tenant_id,
        user_id=who.user_id,
        artifact_id=artifact_id,
        settings=rt.settings,
    )
    ctype = meta["content_type"]
    show_inline = inline and ctype.split(";")[0] in INLINE_IMAGES
    safe_name = "".join(c if c.isalnum() or c in "._- " else "_" for c in meta["name"])[:100]
    disposition = "inline" if show_inline else f'attachment; filename="{safe_name}"'
    return Response(
        data,
        media_type=ctype,
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "ETag": f'"{meta["checksum"]}"',
            "Cache-Control": "private, max-age=3600",
        },
    )
