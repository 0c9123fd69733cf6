"""/metrics: Prometheus exposition for operators (deployment-wide, every tenant)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from core.api.deps import RuntimeDep, bearer, identity_dep
from core.auth.scopes import Scope, has_scope
from core.metrics.exposition import CONTENT_TYPE, render

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
def metrics(
    request: Request,
    rt: RuntimeDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """Run outcomes, resumes, tool denials and timeouts, approvals, model fallbacks (counted
    in the database), and this process's latency histograms. Needs a key with the
    ``operator`` scope unless BATON_METRICS_PUBLIC is true."""
    if not rt.settings.metrics_public:
        who = identity_dep(request, rt, creds)
        if not has_scope(who, Scope.OPERATOR):
            raise HTTPException(
                403, f"/metrics needs the '{Scope.OPERATOR}' scope; this key lacks it"
            )
    return Response(render(rt.engine), media_type=CONTENT_TYPE)
