"""The player's local calendar periods, computed from event time (never wall time)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=2048)
def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone by name, or None for a missing or unknown name (cached: it's hot)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_date(occurred_at_ms: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(occurred_at_ms / 1000, UTC).astimezone(tz).date()


def period_key(period: str, occurred_at_ms: int, tz: ZoneInfo) -> str:
    """The key of the local day (``2026-11-22``), ISO week (``2026-W47``) or ``ever``."""
    if period == "ever":
        return "ever"
    day = local_date(occurred_at_ms, tz)
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    raise ValueError(f"unknown period {period!r}")
