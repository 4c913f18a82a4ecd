"""The daily digest's days: a subscriber's alerts are grouped by day in Beijing time."""

from __future__ import annotations

from matcher.localtime import beijing


def day_of(stamp: str) -> str:
    """The Beijing date (YYYY-MM-DD) of a stored UTC timestamp."""
    return beijing(stamp).date().isoformat()
