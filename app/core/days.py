"""The player's local calendar periods, computed from event time (never wall time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_MS = timedelta(milliseconds=1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=2048)
def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone by name, or None for a missing or unknown name (cached: it's hot)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_ms(occurred_at_ms: int, tz: ZoneInfo) -> int:
    """The instant's wall-clock time in ``tz``, as milliseconds since the local epoch: its
    date and hour are plain integer arithmetic (every event asks for them)."""
    offset = _steady_offset(tz, occurred_at_ms // _DAY_MS)
    if offset is None:  # the zone's offset changes this UTC day: the instant's own
        offset = _offset_ms(tz, occurred_at_ms)
    return occurred_at_ms + offset


def local_date(occurred_at_ms: int, tz: ZoneInfo) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + local_ms(occurred_at_ms, tz) // _DAY_MS)


def local_hour(occurred_at_ms: int, tz: ZoneInfo) -> int:
    """The hour of the day (0-23) on the wall clock in ``tz``."""
    return local_ms(occurred_at_ms, tz) // _HOUR_MS % 24


def period_key(period: str, occurred_at_ms: int, tz: ZoneInfo) -> str:
    """The key of the local day (``2026-11-22``), ISO week (``2026-W47``) or ``ever``."""
    if period == "ever":
        return "ever"
    day, week = _keys(local_ms(occurred_at_ms, tz) // _DAY_MS)
    if period == "day":
        return day
    if period == "week":
        return week
    raise ValueError(f"unknown period {period!r}")


@lru_cache(maxsize=4096)
def _keys(local_day: int) -> tuple[str, str]:
    """The day's and its ISO week's keys, for a day counted from the local epoch."""
    day = date.fromordinal(_EPOCH_ORDINAL + local_day)
    year, week, _ = day.isocalendar()
    return day.isoformat(), f"{year}-W{week:02d}"


@lru_cache(maxsize=8192)
def _steady_offset(tz: ZoneInfo, utc_day: int) -> int | None:
    """The zone's UTC offset in ms all through a UTC day (days since the epoch), or None
    if it differs between the day's first and last millisecond (a daylight-saving switch).
    Equal ends mean one offset: tzdata's offset changes are days apart in every zone."""
    first = _offset_ms(tz, utc_day * _DAY_MS)
    return first if first == _offset_ms(tz, (utc_day + 1) * _DAY_MS - 1) else None


def _offset_ms(tz: ZoneInfo, occurred_at_ms: int) -> int:
    offset = datetime.fromtimestamp(occurred_at_ms / 1000, UTC).astimezone(tz).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset // _MS
