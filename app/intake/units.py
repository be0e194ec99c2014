"""Unit conversions a mapping names (``convert:``): decimal amounts to minor units of their
currency, seconds and ISO-8601 times to epoch milliseconds.

Exact arithmetic only (``Decimal``, integer time deltas): an amount that would lose a digit is
refused, never rounded, so a stake means what the studio sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

#: ISO 4217 minor-unit exponents that are not 2 (every other code has 2 decimals).
CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"), 0
    ),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class ConversionError(ValueError):
    """A value the conversion cannot take; the message says why, for the refused item."""


def exponent(currency: str) -> int:
    """Decimals of ``currency``'s minor unit (EUR 2, JPY 0, KWD 3)."""
    return CURRENCY_EXPONENTS.get(currency, 2)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ConversionError(f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConversionError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ConversionError(f"{value!r} is not a finite number")
    return number


def minor_units(value: Any, currency: str | None) -> int:
    """``"12.50"`` EUR -> 1250; ``"1500"`` JPY -> 1500; refused if a digit would be lost."""
    if not currency:
        raise ConversionError("an amount needs its currency to be converted to minor units")
    scaled = _decimal(value).scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ConversionError(f"{value} has more decimals than {currency}'s {exponent(currency)}")
    return int(scaled)


def integer(value: Any) -> int:
    """A whole number, from a number or its text."""
    number = _decimal(value)
    if number != number.to_integral_value():
        raise ConversionError(f"{value!r} is not a whole number")
    return int(number)


def epoch_seconds(value: Any) -> int:
    """Seconds since the epoch (decimals allowed) -> milliseconds, sub-milliseconds dropped."""
    return int(_decimal(value).scaleb(3).to_integral_value(rounding=ROUND_FLOOR))


def iso8601(value: Any) -> int:
    """``2026-11-24T18:03:07.054Z`` -> epoch milliseconds; a time without a zone is refused
    (whose local time would it be?)."""
    try:
        when = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ConversionError(f"{value!r} is not an ISO-8601 time") from None
    if when.tzinfo is None:
        raise ConversionError(f"{value!r} has no time zone (add Z or an offset)")
    return (when - _EPOCH) // _MS
