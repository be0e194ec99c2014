"""Instants given as text by people: rulesets, CLI options, query parameters.

One policy everywhere: an ISO-8601 time must carry its zone (``Z`` or ``+02:00``). A time
without one is refused rather than guessed, because the same wall-clock text names
different instants in different studios, and an audit or a promo window read an hour off is
wrong without looking wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
#: The instants ``datetime`` can hold (years 1 to 9999), as epoch milliseconds.
MIN_MS = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MS
MAX_MS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MS


def instant_ms(value: str | datetime) -> int:
    """Epoch milliseconds of an ISO-8601 instant with a zone (``2026-11-20T00:00:00Z``).

    ``ValueError`` saying why for anything else, a time without a zone included.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO-8601 time (e.g. 2026-11-22T18:00:00Z)"
            ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{value!s} has no time zone (add Z or an offset like +01:00)")
    return _in_range((moment - _EPOCH) // _MS, value)


def time_ms(text: str) -> int:
    """Epoch milliseconds from whole epoch milliseconds (``1732300000000``) or an ISO-8601
    instant with a zone; ``ValueError`` for anything else or out of ``datetime``'s range."""
    text = text.strip()
    if text.removeprefix("-").isdigit():
        return _in_range(int(text), text)
    return instant_ms(text)


def _in_range(ms: int, value: object) -> int:
    """``ms``, if a ``datetime`` can hold it (e.g. not 0001-01-01T00:00:00+01:00)."""
    if not MIN_MS <= ms <= MAX_MS:
        raise ValueError(f"{value!s} is out of range (years 1 to 9999)")
    return ms
