"""A user's call-back consent: on or off, the number to call (one linked to them) and the
quiet hours, read in the user's own time zone (``/me/preferences``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from core.errors import InvalidInput, NotFound
from core.ids import utcnow
from voice.identity import LINKS, normalise_number
from voice.tables import CallbackPrefs

PREFS = CallbackPrefs.__table__  # type: ignore[attr-defined]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Prefs:
    """Whether and where a user may be called back, and when not."""

    enabled: bool
    number: str
    quiet_start: str
    quiet_end: str

    def quiet_until(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """When the quiet hours around ``now`` end (read in ``zone``), or None outside them."""
        local = now.astimezone(zone)
        start, end = _clock(self.quiet_start), _clock(self.quiet_end)
        if start == end:
            return None
        today_end = datetime.combine(local.date(), end, local.tzinfo)
        if start < end:  # e.g. 13:00-14:00, within one day
            inside = start <= local.time() < end
            return today_end if inside else None
        # Overnight, e.g. 22:00-08:00.
        if local.time() >= start:
            return today_end + timedelta(days=1)
        if local.time() < end:
            return today_end
        return None


def _clock(value: str) -> time:
    match = _CLOCK.match(value)
    if match is None:
        raise InvalidInput(f"{value!r} is not a time of day like 22:00")
    return time(int(match.group(1)), int(match.group(2)))


def prefs_of(conn: Connection, tenant_id: str, user_id: str) -> Prefs | None:
    """The user's call-back preferences, or None if they never set any."""
    row = (
        conn.execute(
            select(PREFS).where(PREFS.c.tenant_id == tenant_id, PREFS.c.user_id == user_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Prefs(
        enabled=row["enabled"],
        number=row["number"],
        quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
    )


def get_prefs(engine: Engine, tenant_id: str, user_id: str) -> Prefs:
    """The user's preferences; NotFound when they never opted in or out."""
    with engine.connect() as conn:
        prefs = prefs_of(conn, tenant_id, user_id)
    if prefs is None:
        raise NotFound("no call-back preferences set; PUT them to opt in")
    return prefs


def set_prefs(engine: Engine, tenant_id: str, user_id: str, wanted: Prefs) -> Prefs:
    """Store the user's preferences after checking them: the number must be linked to this
    user (nobody can have Baton ring someone else's phone), the clock times real."""
    number = normalise_number(wanted.number)
    prefs = Prefs(
        enabled=wanted.enabled,
        number=number,
        quiet_start=_clock(wanted.quiet_start).strftime("%H:%M"),
        quiet_end=_clock(wanted.quiet_end).strftime("%H:%M"),
    )
    with engine.begin() as conn:
        owner = conn.execute(
            select(LINKS.c.number).where(
                LINKS.c.tenant_id == tenant_id,
                LINKS.c.user_id == user_id,
                LINKS.c.number == number,
            )
        ).first()
        if owner is None:
            raise InvalidInput(f"{number} is not linked to you; link it first (baton phones link)")
        values = {
            "enabled": prefs.enabled,
            "number": prefs.number,
            "quiet_start": prefs.quiet_start,
            "quiet_end": prefs.quiet_end,
            "updated_at": utcnow(),
        }
        updated = conn.execute(
            PREFS.update()
            .where(PREFS.c.tenant_id == tenant_id, PREFS.c.user_id == user_id)
            .values(**values)
        )
        if updated.rowcount == 0:
            try:
                with conn.begin_nested():
                    conn.execute(
                        PREFS.insert().values(tenant_id=tenant_id, user_id=user_id, **values)
                    )
            except IntegrityError:  # set at the same moment by another request: ours wins
                conn.execute(
                    PREFS.update()
                    .where(PREFS.c.tenant_id == tenant_id, PREFS.c.user_id == user_id)
                    .values(**values)
                )
    return prefs
