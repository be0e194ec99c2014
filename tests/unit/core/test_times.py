"""The one parser of instants people type: a zone is required, epoch ms are whole numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.core.times import MAX_MS, MIN_MS, instant_ms, time_ms

T = 1_795_370_400_000  # 2026-11-22T18:00:00Z


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-11-22T18:00:00Z", T),
        ("2026-11-22T18:00:00+00:00", T),
        ("2026-11-22T20:00:00+02:00", T),
        ("2026-11-22T13:00:00-05:00", T),
        ("2026-11-22T18:00:00.123Z", T + 123),
        ("  2026-11-22T18:00:00Z ", T),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_iso_instants_with_a_zone(text, ms):
    assert instant_ms(text) == ms
    assert time_ms(text) == ms


def test_aware_datetimes_are_taken_as_they_are():
    assert instant_ms(datetime(2026, 11, 22, 18, tzinfo=UTC)) == T
    assert instant_ms(datetime(2026, 11, 22, 19, tzinfo=timezone(timedelta(hours=1)))) == T


@pytest.mark.parametrize(
    "value", ["2026-11-22T18:00:00", "2026-11-22", "20261122T180000", datetime(2026, 11, 22, 18)]
)
def test_a_time_without_a_zone_is_refused_not_guessed(value):
    with pytest.raises(ValueError, match="has no time zone"):
        instant_ms(value)
    if isinstance(value, str):
        with pytest.raises(ValueError, match="has no time zone"):
            time_ms(value)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-22T25:00:00Z", "18:00Z", "1e12"]
)
def test_garbage_is_refused(text):
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        time_ms(text)


@pytest.mark.parametrize(
    "text",
    [
        "99999-01-01T00:00:00Z",  # no such year in ISO-8601's four digits
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        str(MAX_MS + 1),
        str(MIN_MS - 1),
        "99999999999999999999",
    ],
)
def test_out_of_range_instants_are_refused(text):
    with pytest.raises(ValueError):
        time_ms(text)


def test_whole_epoch_milliseconds():
    assert time_ms("1732300000123") == 1_732_300_000_123
    assert time_ms("-5") == -5
    assert time_ms(str(MAX_MS)) == MAX_MS
    assert time_ms(str(MIN_MS)) == MIN_MS
    assert datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=MAX_MS) > datetime(
        9999, 12, 31, 23, 59, tzinfo=UTC
    )
