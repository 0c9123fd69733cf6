"""Who a phone caller is: a linked number speaks for its user; any other number is a guest.

A guest is a user of its own in the guest tenant (BATON_VOICE_GUEST_TENANT), one per number,
with no scopes: it sees only its own runs, no scoped tools, and cannot approve by voice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from core.auth.keys import check_name, ensure_user
from core.errors import Conflict, InvalidInput, NotFound
from core.ids import sha256_hex, utcnow
from voice.tables import PhoneLink

LINKS = PhoneLink.__table__  # type: ignore[attr-defined]
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SEPARATORS = re.compile(r"[\s().-]")
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Caller:
    """The identity a phone call runs as."""

    tenant_id: str
    user_id: str
    number: str | None
    guest: bool


def normalise_number(raw: str) -> str:
    """A phone number in E.164 (``+15551234567``); InvalidInput for anything else."""
    number = _SEPARATORS.sub("", (raw or "").strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    if not E164.match(number):
        raise InvalidInput(
            f"{raw!r} is not a phone number in international form, like +15551234567"
        )
    return number


def link_number(engine: Engine, tenant_id: str, user_id: str, raw_number: str) -> dict[str, str]:
    """Map a number to a user (creating the user if needed); Conflict if it speaks for another."""
    check_name("tenant", tenant_id)
    check_name("user", user_id)
    number = normalise_number(raw_number)
    with engine.begin() as conn:
        current = conn.execute(select(LINKS).where(LINKS.c.number == number)).mappings().first()
        if current is not None:
            if (current["tenant_id"], current["user_id"]) == (tenant_id, user_id):
                return {"number": number, "tenant_id": tenant_id, "user_id": user_id}
            raise Conflict(
                f"{number} is already linked to user '{current['user_id']}' of tenant "
                f"'{current['tenant_id']}'; unlink it first (baton phones unlink --number {number})"
            )
        ensure_user(conn, tenant_id, user_id)
        try:
            with conn.begin_nested():
                conn.execute(
                    LINKS.insert().values(
                        number=number, tenant_id=tenant_id, user_id=user_id, created_at=utcnow()
                    )
                )
        except IntegrityError:
            raise Conflict(f"{number} was linked by someone else just now; try again") from None
    return {"number": number, "tenant_id": tenant_id, "user_id": user_id}


def unlink_number(engine: Engine, raw_number: str) -> dict[str, str]:
    """Remove a number's link; NotFound if it has none."""
    number = normalise_number(raw_number)
    with engine.begin() as conn:
        current = conn.execute(select(LINKS).where(LINKS.c.number == number)).mappings().first()
        if current is None:
            raise NotFound(f"{number} is not linked to anyone")
        conn.execute(delete(LINKS).where(LINKS.c.number == number))
    return {"number": number, "tenant_id": current["tenant_id"], "user_id": current["user_id"]}


def list_numbers(
    engine: Engine, tenant_id: str, user_id: str | None = None
) -> list[dict[str, str]]:
    """The numbers linked to users of a tenant (or to one user), sorted."""
    stmt = select(LINKS).where(LINKS.c.tenant_id == tenant_id)
    if user_id:
        stmt = stmt.where(LINKS.c.user_id == user_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(LINKS.c.user_id, LINKS.c.number)).mappings()
        return [
            {"number": r["number"], "tenant_id": r["tenant_id"], "user_id": r["user_id"]}
            for r in rows
        ]


def guest_user_id(number: str | None) -> str:
    """The guest user of a number: stable per number, without storing the number in the id."""
    if not number:
        return f"guest-{ANONYMOUS}"
    return "guest-" + sha256_hex(number)[:20]


def resolve_caller(engine: Engine, raw_number: str | None, guest_tenant: str) -> Caller:
    """The user a caller's number is linked to, or the number's guest user."""
    try:
        number: str | None = normalise_number(raw_number or "")
    except InvalidInput:
        number = None  # withheld ("anonymous"), a SIP URI, a browser client...
    with engine.begin() as conn:
        if number is not None:
            link = conn.execute(select(LINKS).where(LINKS.c.number == number)).mappings().first()
            if link is not None:
                return Caller(link["tenant_id"], link["user_id"], number, guest=False)
        user_id = guest_user_id(number)
        # No scopes: a guest is offered no tool that needs one.
        ensure_user(conn, guest_tenant, user_id, scopes=[])
    return Caller(guest_tenant, user_id, number, guest=True)
