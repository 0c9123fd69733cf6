"""FastAPI dependencies: the runtime, the caller's identity, the run store."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.auth.keys import Identity, verify_key
from core.runs.service import RunStore
from core.runtime import Runtime, get_runtime

bearer = HTTPBearer(auto_error=False, description="An API key from `baton keys create`")
API_KEY = "api_key"


def runtime_dep() -> Runtime:
    """The process runtime."""
    return get_runtime()


RuntimeDep = Annotated[Runtime, Depends(runtime_dep)]


def identity_dep(
    request: Request,
    rt: RuntimeDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Identity:
    """The caller, from a Bearer API key or a session another surface established.

    Which one authenticated is kept on the request (:func:`authenticated_by`): a surface's
    session may be narrower than its user, and only the credential in use may widen it.
    """
    if creds is not None:
        ident = verify_key(rt.engine, creds.credentials)
        if ident is not None:
            request.state.authenticated_by = API_KEY
            return ident
        raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"})
    for resolver in request.app.state.identity_resolvers:
        ident = resolver(request)
        if ident is not None:
            request.state.authenticated_by = getattr(resolver, "__qualname__", repr(resolver))
            return ident
    raise HTTPException(
        401, "missing API key (Authorization: Bearer ...)", {"WWW-Authenticate": "Bearer"}
    )


IdentityDep = Annotated[Identity, Depends(identity_dep)]


def authenticated_by(request: Request) -> str | None:
    """What authenticated ``request``: API_KEY, a resolver's name, or None (nothing yet)."""
    credential: str | None = getattr(request.state, "authenticated_by", None)
    return credential


def store_dep(rt: RuntimeDep) -> RunStore:
    """The scoped run store."""
    return RunStore(rt.engine, rt.settings)


StoreDep = Annotated[RunStore, Depends(store_dep)]
