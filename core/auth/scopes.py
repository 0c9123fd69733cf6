"""Permission scopes of a key's user, checked in one place for every surface.

Ordinary scopes (approving, each tool's scope) are held by a user without a scope list, so a
single-user install needs no setup. Privileged scopes widen what a key can read beyond its own
user's data (every user's spend, every tenant's metrics, a feed of every user's run events);
those are never a default: only a listed scope grants them. ``admin`` holds every scope but
``operator``, which spans tenants.
"""

from __future__ import annotations

from enum import StrEnum

from core.auth.keys import Identity
from core.errors import Forbidden


class Scope(StrEnum):
    """The scopes the API, the web view and MCP check (tools declare their own)."""

    APPROVE = "approve"
    """Decide a pending approval of one's own run."""
    WEBHOOKS = "webhooks:manage"
    """Subscribe the tenant's webhooks to every user's run events."""
    ADMIN = "admin"
    """Everything within the key's tenant, including every user's spend."""
    OPERATOR = "operator"
    """Deployment-wide metrics (/metrics), which aggregate every tenant."""


PRIVILEGED = frozenset({Scope.WEBHOOKS, Scope.ADMIN, Scope.OPERATOR})


def has_scope(identity: Identity, scope: str) -> bool:
    """Whether the key's user holds ``scope`` (see the module docstring for the rules)."""
    listed = identity.scopes
    if listed is None:
        return scope not in PRIVILEGED
    if scope in listed:
        return True
    return scope != Scope.OPERATOR and Scope.ADMIN in listed


def missing_scope_reason(scope: str) -> str:
    """The reason a refusal gives, the same on every surface."""
    return f"this key lacks the '{scope}' scope"


def require_scope(identity: Identity, scope: str) -> None:
    """Raise :class:`Forbidden` (403 with the reason) unless the key's user holds ``scope``."""
    if not has_scope(identity, scope):
        raise Forbidden(missing_scope_reason(scope))
