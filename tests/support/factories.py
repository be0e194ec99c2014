"""Builders of valid records for tests: one place that knows what a good event looks like."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from app.core.samples import SAMPLE_PROFILE

_ids = itertools.count(1)


def ms(iso: str) -> int:
    """Epoch millis of an ISO instant, e.g. ``2026-11-22T23:30:00Z``."""
    return int(
        datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1000
    )


def table_event(**overrides: object) -> dict:
    event = {
        "event_id": f"ev-{next(_ids)}",
        "event_type": "BET_PLACED",
        "occurred_at": ms("2026-11-22T12:00:00Z"),
        "studio_id": "riga-1",
        "table_id": "bj-01",
        "dealer_id": "dealer-7",
        "game": "BLACKJACK",
        "game_variant": None,
        "round_id": "r-1",
        "player_id": "p-000001",
        "bet": {"bet_type": "main", "stake_minor": 2500, "currency": "EUR"},
        "settlement": None,
        "chat_text": None,
        "device": "mobile",
        "attributes": {},
    }
    event.update(overrides)
    return event


def settled(outcome: str = "WIN", hand: str | None = None, **overrides: object) -> dict:
    payout = {"WIN": 5000, "LOSS": 0, "PUSH": 2500}.get(outcome, 0)
    if hand == "natural_blackjack":
        payout = 6250
    fields = {
        "event_type": "BET_SETTLED",
        "settlement": {"outcome": outcome, "payout_minor": payout, "hand": hand},
        **overrides,
    }
    return table_event(**fields)


def natural(**overrides: object) -> dict:
    return settled("WIN", "natural_blackjack", **overrides)


def profile(player_id: str = "p-000001", **overrides: object) -> dict:
    return {**SAMPLE_PROFILE, "player_id": player_id, **overrides}
