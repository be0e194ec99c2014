"""Local days, weeks and hours by integer arithmetic give what ``datetime`` gives, in every
zone, daylight-saving switches included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.days import local_date, local_hour, period_key

ZONES = sorted(available_timezones())
#: zones and years with switches at midnight, by half an hour, or at odd offsets
AWKWARD = [
    ("Europe/Berlin", 2026),
    ("America/Sao_Paulo", 2018),
    ("Asia/Gaza", 2026),
    ("Australia/Lord_Howe", 2026),
    ("America/St_Johns", 2026),
]
HOUR = 3_600_000


def _wall_clock(t: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(t / 1000, UTC).astimezone(tz)


def _agrees(t: int, tz: ZoneInfo) -> None:
    wall = _wall_clock(t, tz)
    year, week, _ = wall.date().isocalendar()
    assert local_date(t, tz) == wall.date()
    assert local_hour(t, tz) == wall.hour
    assert period_key("day", t, tz) == wall.date().isoformat()
    assert period_key("week", t, tz) == f"{year}-W{week:02d}"


@settings(max_examples=400)
@given(st.sampled_from(ZONES), st.integers(-(10**12), 4 * 10**12))
def test_local_calendar_matches_datetime_in_every_zone(name, t):
    _agrees(t, ZoneInfo(name))


@pytest.mark.parametrize(("name", "year"), AWKWARD)
def test_local_calendar_matches_datetime_across_switches(name, year):
    tz = ZoneInfo(name)
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) * 1000
    for t in range(start, start + 366 * 24 * HOUR, HOUR // 2):  # each half hour of a year
        _agrees(t, tz)
        _agrees(t - 1, tz)


def test_an_unknown_period_is_refused():
    with pytest.raises(ValueError, match="unknown period"):
        period_key("month", 0, ZoneInfo("UTC"))
    assert period_key("ever", 0, ZoneInfo("UTC")) == "ever"
