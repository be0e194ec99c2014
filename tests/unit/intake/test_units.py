"""Unit conversions: amounts to minor units by the currency's exponent, times to milliseconds,
nothing rounded that would change what the studio sent."""

from __future__ import annotations

import pytest

from app.intake.units import ConversionError, epoch_seconds, integer, iso8601, minor_units


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.50", "EUR", 1250),
        ("12.5", "EUR", 1250),
        (12.5, "GBP", 1250),
        ("0.00", "EUR", 0),
        ("1500", "JPY", 1500),
        (1500, "JPY", 1500),
        ("1.250", "KWD", 1250),
        ("100000000.00", "EUR", 10_000_000_000),
    ],
)
def test_amounts_become_minor_units_by_the_currency_exponent(amount, currency, minor):
    assert minor_units(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("1.005", "EUR", "more decimals than EUR's 2"),
        ("1500.5", "JPY", "more decimals than JPY's 0"),
        ("twelve", "EUR", "not a number"),
        ("NaN", "EUR", "not a finite number"),
        ("Infinity", "EUR", "not a finite number"),
        (True, "EUR", "not a number"),
        ("12.50", None, "needs its currency"),
    ],
)
def test_an_amount_that_would_lose_a_digit_or_is_no_number_is_refused(amount, currency, why):
    with pytest.raises(ConversionError, match=why):
        minor_units(amount, currency)


def test_seconds_and_iso_times_become_milliseconds():
    assert epoch_seconds("1764000016.528") == 1_764_000_016_528
    assert epoch_seconds(1764000016) == 1_764_000_016_000
    assert epoch_seconds("1764000016.5289") == 1_764_000_016_528  # sub-millisecond dropped
    assert iso8601("2025-11-24T16:00:16.528Z") == 1_764_000_016_528
    assert iso8601("2025-11-24T17:00:16.528+01:00") == 1_764_000_016_528
    assert integer("1764000016528") == 1_764_000_016_528


@pytest.mark.parametrize(
    ("convert", "value", "why"),
    [
        (iso8601, "2025-11-24T16:00:16", "no time zone"),
        (iso8601, "yesterday", "not an ISO-8601 time"),
        (integer, "12.5", "not a whole number"),
        (epoch_seconds, "soon", "not a number"),
    ],
)
def test_times_without_a_zone_and_non_numbers_are_refused(convert, value, why):
    with pytest.raises(ConversionError, match=why):
        convert(value)
