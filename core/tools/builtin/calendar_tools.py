"""Calendar tools: list meetings, find free slots, book (level 3), cancel (level 3).

Meetings live in Baton's own database, per tenant and user. Booking is keyed by the call's
idempotency key, so a replayed booking returns the meeting the first call made.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update

from core.config import Settings
from core.ids import new_id, utcnow
from core.tools.builtin.storage import lock_owner, read, write
from core.tools.builtin.tables import CalendarEvent
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolError, ToolSpec

EVENTS = CalendarEvent.__table__  # type: ignore[attr-defined]
GRID_MINUTES = 15
MAX_SEARCH_DAYS = 31
MAX_MEETING = timedelta(hours=12)

_DATETIME = {"type": "string", "description": "ISO 8601, e.g. 2030-01-07T10:00:00+01:00"}


class CalendarTools:
    """The calendar tools bound to one configuration (time zone, bookable hours)."""

    def __init__(self, settings: Settings) -> None:
        self.tz: tzinfo = ZoneInfo(settings.calendar_timezone)
        start, _, end = settings.calendar_day_hours.partition("-")
        self.day_start = time.fromisoformat(start.strip())
        self.day_end = time.fromisoformat(end.strip())
        if self.day_end <= self.day_start:
            raise ValueError("BATON_CALENDAR_DAY_HOURS must look like 09:00-17:00")

    # ----- parsing -------------------------------------------------------------------------

    def _when(self, value: str, field: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ToolError(
                "invalid_arguments", f"{field} is not an ISO 8601 time: {value!r}"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.tz)
        return parsed.astimezone(UTC)

    def _day(self, value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ToolError("invalid_arguments", f"date is not YYYY-MM-DD: {value!r}") from None

    def _iso(self, at: datetime) -> str:
        return _aware(at).astimezone(self.tz).isoformat()

    def _public(self, row: Any) -> dict[str, Any]:
        return {
            "event_id": row["event_id"],
            "title": row["title"],
            "start": self._iso(row["start_at"]),
            "end": self._iso(row["end_at"]),
            "attendees": row["attendees"] or [],
            "location": row["location"],
            "status": row["status"],
        }

    def _window(self, args: dict[str, Any]) -> tuple[datetime, datetime]:
        if "date" in args:
            day = self._day(args["date"])
            start = datetime.combine(day, time.min, self.tz).astimezone(UTC)
            return start, start + timedelta(days=1)
        start = self._when(args["from"], "from") if "from" in args else utcnow()
        end = self._when(args["to"], "to") if "to" in args else start + timedelta(days=7)
        if end <= start:
            raise ToolError("invalid_arguments", "'to' must be after 'from'")
        if end - start > timedelta(days=MAX_SEARCH_DAYS):
            raise ToolError("invalid_arguments", f"search at most {MAX_SEARCH_DAYS} days at once")
        return start, end

    @staticmethod
    def _booked(
        conn: Connection, ctx: ToolContext, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(EVENTS)
            .where(
                EVENTS.c.tenant_id == ctx.tenant_id,
                EVENTS.c.user_id == ctx.user_id,
                EVENTS.c.status == "booked",
                EVENTS.c.start_at < end,
                EVENTS.c.end_at > start,
            )
            .order_by(EVENTS.c.start_at)
        ).mappings()
        return [dict(r) for r in rows]

    # ----- tools ---------------------------------------------------------------------------

    async def list_events(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """The user's meetings in a window (default: the next 7 days)."""
        start, end = self._window(args)
        rows = await read(ctx.engine, lambda c: self._booked(c, ctx, start, end))
        return {"events": [self._public(r) for r in rows], "timezone": str(self.tz)}

    async def find_slots(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Free slots of the asked length inside bookable hours, earliest first."""
        length = timedelta(minutes=int(args.get("duration_minutes", 30)))
        limit = int(args.get("limit", 5))
        start, end = self._window(args)
        start = max(start, utcnow())
        busy = await read(ctx.engine, lambda c: self._booked(c, ctx, start, end))
        spans = [(_aware(b["start_at"]), _aware(b["end_at"])) for b in busy]
        slots: list[dict[str, str]] = []
        day = start.astimezone(self.tz).date()
        while len(slots) < limit and datetime.combine(day, time.min, self.tz) < end:
            open_at = max(datetime.combine(day, self.day_start, self.tz), start)
            close_at = min(datetime.combine(day, self.day_end, self.tz), end)
            at = _round_up(open_at.astimezone(UTC))
            while at + length <= close_at and len(slots) < limit:
                clash = next((e for s, e in spans if s < at + length and e > at), None)
                if clash is None:
                    slots.append({"start": self._iso(at), "end": self._iso(at + length)})
                    at += length
                else:
                    at = _round_up(clash)
            day += timedelta(days=1)
        return {"slots": slots, "duration_minutes": int(length.total_seconds() // 60)}

    async def book(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Book a meeting unless it clashes; the same call replayed returns the same meeting."""
        start = self._when(args["start"], "start")
        if "end" in args:
            end = self._when(args["end"], "end")
        else:
            end = start + timedelta(minutes=int(args.get("duration_minutes", 30)))
        if end <= start:
            raise ToolError("invalid_arguments", "the meeting must end after it starts")
        if end - start > MAX_MEETING:
            raise ToolError("invalid_arguments", "a meeting may last at most 12 hours")
        title = args["title"].strip()

        def book(conn: Connection) -> dict[str, Any]:
            lock_owner(conn, "calendar", ctx.tenant_id, ctx.user_id)
            existing = self._by_key(conn, ctx)
            if existing is not None:
                return {"event": self._public(existing), "replayed": True}
            clashes = self._booked(conn, ctx, start, end)
            if clashes:
                raise ToolError(
                    "conflict",
                    f"that time clashes with '{clashes[0]['title']}'",
                    data={"conflicts": [self._public(c) for c in clashes]},
                )
            row = {
                "event_id": new_id("cal"),
                "tenant_id": ctx.tenant_id,
                "user_id": ctx.user_id,
                "title": title,
                "start_at": start,
                "end_at": end,
                "attendees": list(args.get("attendees", [])),
                "location": args.get("location"),
                "status": "booked",
                "idempotency_key": ctx.idempotency_key,
                "run_id": ctx.run_id,
                "created_at": utcnow(),
            }
            conn.execute(insert(EVENTS).values(**row))
            return {"event": self._public(row), "replayed": False}

        return await write(ctx.engine, book)

    async def cancel(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Cancel one of the user's meetings (cancelling twice is harmless)."""
        return await self._cancel_where(ctx, event_id=args["event_id"])

    async def undo_booking(self, _args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Compensation of a booking: cancel the meeting that call (its key) created."""
        return await self._cancel_where(ctx, key=ctx.idempotency_key)

    async def _cancel_where(
        self, ctx: ToolContext, event_id: str | None = None, key: str | None = None
    ) -> dict[str, Any]:
        def cancel(conn: Connection) -> dict[str, Any]:
            scope = [EVENTS.c.tenant_id == ctx.tenant_id, EVENTS.c.user_id == ctx.user_id]
            if event_id is not None:
                scope.append(EVENTS.c.event_id == event_id)
            else:
                scope.append(EVENTS.c.idempotency_key == key)
            row = conn.execute(select(EVENTS).where(*scope)).mappings().first()
            if row is None:
                raise ToolError("not_found", f"no meeting '{event_id or key}' on your calendar")
            if row["status"] == "booked":
                conn.execute(
                    update(EVENTS)
                    .where(EVENTS.c.event_id == row["event_id"])
                    .values(status="cancelled", cancelled_at=utcnow())
                )
            return {"event": {**self._public(row), "status": "cancelled"}}

        return await write(ctx.engine, cancel)

    @staticmethod
    def _by_key(conn: Connection, ctx: ToolContext) -> dict[str, Any] | None:
        row = (
            conn.execute(
                select(EVENTS).where(
                    EVENTS.c.tenant_id == ctx.tenant_id,
                    EVENTS.c.user_id == ctx.user_id,
                    EVENTS.c.idempotency_key == ctx.idempotency_key,
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    def confirm_booking(self, args: dict[str, Any]) -> str:
        """The spoken yes/no question before a booking."""
        start = self._when(args["start"], "start").astimezone(self.tz)
        if "end" in args:
            minutes = int((self._when(args["end"], "end") - start).total_seconds() // 60)
        else:
            minutes = int(args.get("duration_minutes", 30))
        when = f"{start:%A} {start.day} {start:%B} at {start:%H:%M}"
        people = args.get("attendees") or []
        guests = f" with {', '.join(people[:3])}" if people else ""
        return f"Should I book '{args['title']}' on {when} for {minutes} minutes{guests}?"

    # ----- declarations --------------------------------------------------------------------

    def specs(self) -> list[ToolSpec]:
        """The calendar tools as declared to the registry."""
        window = {
            "date": {"type": "string", "description": "A day, YYYY-MM-DD"},
            "from": _DATETIME,
            "to": _DATETIME,
        }
        event = {
            "type": "object",
            "properties": {"event": {"type": "object", "required": ["event_id", "status"]}},
            "required": ["event"],
        }
        return [
            ToolSpec(
                name="calendar_list_events",
                description="List the user's meetings on a day or in a time window.",
                fn=self.list_events,
                input_schema={
                    "type": "object",
                    "properties": window,
                    "additionalProperties": False,
                },
                risk_level=RiskLevel.PURE_READ,
                scopes=("calendar:read",),
                timeout_s=10,
                max_attempts=2,
            ),
            ToolSpec(
                name="calendar_find_slots",
                description=(
                    "Find free slots of a given length in the user's calendar, within working "
                    "hours, earliest first."
                ),
                fn=self.find_slots,
                input_schema={
                    "type": "object",
                    "properties": {
                        **window,
                        "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 720},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                    },
                    "additionalProperties": False,
                },
                risk_level=RiskLevel.PURE_READ,
                scopes=("calendar:read",),
                timeout_s=10,
                max_attempts=2,
            ),
            ToolSpec(
                name="calendar_book_meeting",
                description="Book a meeting on the user's calendar (asks the user first).",
                fn=self.book,
                input_schema={
                    "type": "object",
                    "required": ["title", "start"],
                    "properties": {
                        "title": {"type": "string", "minLength": 1, "maxLength": 300},
                        "start": _DATETIME,
                        "end": _DATETIME,
                        "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 720},
                        "attendees": {
                            "type": "array",
                            "items": {"type": "string", "maxLength": 200},
                            "maxItems": 50,
                        },
                        "location": {"type": "string", "maxLength": 300},
                    },
                    "additionalProperties": False,
                },
                result_schema=event,
                risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
                scopes=("calendar:write",),
                timeout_s=10,
                max_attempts=2,
                idempotency=Idempotency.KEYED,
                compensate=self.undo_booking,
                confirm=self.confirm_booking,
            ),
            ToolSpec(
                name="calendar_cancel_meeting",
                description="Cancel one of the user's meetings by its event_id (asks first).",
                fn=self.cancel,
                input_schema={
                    "type": "object",
                    "required": ["event_id"],
                    "properties": {"event_id": {"type": "string", "maxLength": 40}},
                    "additionalProperties": False,
                },
                result_schema=event,
                risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
                scopes=("calendar:write",),
                timeout_s=10,
                max_attempts=2,
                idempotency=Idempotency.SAFE,
            ),
        ]


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _round_up(at: datetime) -> datetime:
    at = _aware(at).replace(second=0, microsecond=0) + (
        timedelta(minutes=1) if at.second or at.microsecond else timedelta(0)
    )
    extra = at.minute % GRID_MINUTES
    return at + timedelta(minutes=(GRID_MINUTES - extra) % GRID_MINUTES)
