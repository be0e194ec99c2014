"""Builders of valid records for tests: one place that knows what a good event looks like."""

from __future__ import annotations

import itertools

from app.core.samples import SAMPLE_PROFILE, sample_event
from app.core.times import instant_ms

#: The erasure key of unit tests (a deployment's comes from app.security.erasure_key).
ERASURE_KEY = b"unit-test-erasure-key-0123456789abcdef"

_ids = itertools.count(1)


def ms(iso: str) -> int:
    """Epoch millis of an ISO instant with a zone, e.g. ``2026-11-22T23:30:00Z``."""
    return instant_ms(iso)


def table_event(**overrides: object) -> dict:
    """A plain main bet of one player (the core's sample event, its optional parts empty),
    with a fresh id; ``overrides`` replace whole fields."""
    return {
        **sample_event("BET_PLACED"),
        "event_id": f"ev-{next(_ids)}",
        "occurred_at": ms("2026-11-22T12:00:00Z"),
        "player_id": "p-000001",
        "game_variant": None,
        "settlement": None,
        "chat_text": None,
        "attributes": {},
        **overrides,
    }


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


#: A losing main bet of 100.00 EUR: eight of them lose 800.00, past the shipped rapid-loss
#: amount (750.00) even after a win or two in the same window.
BURST_STAKE = {"bet_type": "main", "stake_minor": 10_000, "currency": "EUR"}


def losing_burst(player_id: str, start_ms: int, step_ms: int = 1000, count: int = 8) -> list[dict]:
    """``count`` lost rounds of one player, ``step_ms`` apart: eight trip the shipped ruleset's
    rapid-loss cool-down (over 750.00 lost within its window), the fifth a loss-streak reward."""
    return [
        settled("LOSS", player_id=player_id, bet=BURST_STAKE, occurred_at=start_ms + i * step_ms)
        for i in range(count)
    ]


def natural(**overrides: object) -> dict:
    return settled("WIN", "natural_blackjack", **overrides)


def profile(player_id: str = "p-000001", **overrides: object) -> dict:
    return {**SAMPLE_PROFILE, "player_id": player_id, **overrides}


def account_record(kind: str = "DEPOSIT", **overrides: object) -> dict:
    """An AccountEvent as the operator's platform sends it: a completed 50.00 EUR deposit
    by card unless ``overrides`` say otherwise; a fresh id."""
    money = kind in ("DEPOSIT", "WITHDRAWAL", "WITHDRAWAL_CANCELLED")
    return {
        "event_id": f"pay-{next(_ids)}",
        "player_id": "p-000001",
        "type": kind,
        "occurred_at": ms("2026-11-22T12:00:00Z"),
        "amount_minor": 5000 if money else None,
        "currency": "EUR" if money else None,
        "payment_method": "CARD" if money else None,
        "status": "COMPLETED" if money else None,
        "kyc_status": "VERIFIED" if kind == "KYC_STATUS_CHANGED" else None,
        "attributes": {},
        **overrides,
    }


def interaction_record(**overrides: object) -> dict:
    """A PlayerInteraction as the player gateway produces it: a click on a reward."""
    at = ms("2026-11-22T12:00:00Z")
    return {
        "interaction_id": f"ia-{next(_ids)}",
        "player_id": "p-000001",
        "action": "CLICKED",
        "reward_id": "rw-1",
        "message_id": None,
        "rule_id": "first-natural-blackjack-of-day",
        "variant": "b",
        "surface": "reward-toast",
        "occurred_at": at,
        "recorded_at": at,
        **overrides,
    }
