"""A user's time zone: stored per tenant and user, validated as an IANA name, with a default."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from core.contacts.preferences import set_user_timezone, user_timezone
from core.errors import InvalidInput


def test_time_zone_is_per_user_and_falls_back_to_the_default(engine):
    with engine.begin() as conn:
        assert user_timezone(conn, "acme", "alice", "UTC") == ZoneInfo("UTC")
        assert set_user_timezone(conn, "acme", "alice", " Asia/Tokyo ") == "Asia/Tokyo"
        set_user_timezone(conn, "acme", "alice", "America/Chicago")
    with engine.connect() as conn:
        assert user_timezone(conn, "acme", "alice", "UTC") == ZoneInfo("America/Chicago")
        assert user_timezone(conn, "acme", "bob", "Europe/Berlin") == ZoneInfo("Europe/Berlin")
        assert user_timezone(conn, "globex", "alice", "UTC") == ZoneInfo("UTC")
    with engine.begin() as conn:
        assert set_user_timezone(conn, "acme", "alice", None) is None
        assert user_timezone(conn, "acme", "alice", "UTC") == ZoneInfo("UTC")


def test_a_bad_zone_is_refused_and_the_old_one_kept(engine):
    with engine.begin() as conn:
        set_user_timezone(conn, "acme", "alice", "Europe/Paris")
    for bad in ("Mars/Olympus", "", "utc+2", "/etc/localtime", "../UTC", "Europe"):
        with pytest.raises(InvalidInput, match="IANA time zone"), engine.begin() as conn:
            set_user_timezone(conn, "acme", "alice", bad)
    with engine.connect() as conn:
        assert user_timezone(conn, "acme", "alice", "UTC") == ZoneInfo("Europe/Paris")
