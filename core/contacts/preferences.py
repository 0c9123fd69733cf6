"""Per-user preferences: the time zone dates and times in a person's commands resolve in."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from core.contacts.tables import PREFERENCES
from core.errors import InvalidInput
from core.ids import utcnow


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA zone called ``name`` ("Europe/Paris"); :class:`InvalidInput` says why not."""
    cleaned = name.strip()
    # ZoneInfo also opens paths such as "../etc/x" or local-time files: accept listed names only.
    if cleaned not in _known_zones():
        raise InvalidInput(
            f"'{name}' is not an IANA time zone name (such as 'Europe/Paris' or 'America/New_York')"
        )
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"'{name}' is not an IANA time zone name: {exc}") from exc


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def stored_timezone(conn: Connection, tenant_id: str, user_id: str) -> str | None:
    """The zone the user chose, or None if they never did."""
    return conn.execute(
        select(PREFERENCES.c.timezone).where(
            PREFERENCES.c.tenant_id == tenant_id, PREFERENCES.c.user_id == user_id
        )
    ).scalar_one_or_none()


def user_timezone(conn: Connection, tenant_id: str, user_id: str, default: str) -> ZoneInfo:
    """The user's time zone, or ``default`` (e.g. BATON_CALENDAR_TIMEZONE) if they chose none."""
    return parse_timezone(stored_timezone(conn, tenant_id, user_id) or default)


def set_user_timezone(
    conn: Connection, tenant_id: str, user_id: str, name: str | None
) -> str | None:
    """Store the user's time zone (validated), or forget it with ``None``; returns what is stored.

    Setting the same zone twice leaves one row: the write is idempotent per tenant and user."""
    zone = parse_timezone(name).key if name is not None else None
    now = utcnow()
    scope = (PREFERENCES.c.tenant_id == tenant_id, PREFERENCES.c.user_id == user_id)
    changed = conn.execute(update(PREFERENCES).where(*scope).values(timezone=zone, updated_at=now))
    if changed.rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(
                    PREFERENCES.insert().values(
                        tenant_id=tenant_id, user_id=user_id, timezone=zone, updated_at=now
                    )
                )
        except IntegrityError:
            # Another request inserted the row between our update and insert: update it.
            conn.execute(update(PREFERENCES).where(*scope).values(timezone=zone, updated_at=now))
    return zone
