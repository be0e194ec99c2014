"""The operator's outcome figures (Avro ``PlayerOutcome`` on ``player-outcomes``) as the
archive reads them: checked before they reach PostgreSQL, so a record with a day that is
not a date or a currency that is not a code is skipped with its reason (never a batch that
PostgreSQL refuses again and again)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError

_CURRENCY = re.compile(r"[A-Z]{3}")


def problem(outcome: dict) -> str | None:
    """Why ``outcome`` cannot be archived, or None."""
    try:
        date.fromisoformat(outcome["day"])
    except ValueError:
        return f"day {outcome['day'][:40]!r} is not a date as YYYY-MM-DD"
    if not _CURRENCY.fullmatch(outcome["currency"]):
        return f"currency {outcome['currency'][:40]!r} is not an ISO 4217 code"
    return None


class OutcomeCodec(AvroCodec):
    """``PlayerOutcome`` records, each checked as it is decoded."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("PlayerOutcome", **kwargs)

    def decode(self, data: bytes) -> dict:
        outcome = super().decode(data)
        why = problem(outcome)
        if why is not None:
            raise DecodeError("INVALID", why)
        return outcome
