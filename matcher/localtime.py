"""Chongqing's clock: timestamps are stored in UTC; due dates, digests and printed catalogues read Beijing time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(stamp: str) -> dt.datetime:
    """A stored timestamp (ISO 8601, UTC when it names no zone) in Beijing time; ValueError when unreadable."""
    when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(BEIJING)


def today() -> dt.date:
    """Today's date in Beijing."""
    return dt.datetime.now(BEIJING).date()
