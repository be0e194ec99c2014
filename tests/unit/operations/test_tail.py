"""The live feed make run shows: one readable line per reward."""

from __future__ import annotations

from app.operations.tail import format_cooldown, format_reward
from tests.support.factories import ms


def reward(**overrides):
    record = {
        "player_id": "p-000001",
        "rule_id": "loss-streak-5",
        "rule_version": 2,
        "kind": "CASHBACK_OFFER",
        "amount": 850,
        "currency": "EUR",
        "message": None,
        "table_id": "bj-01",
        "game": "BLACKJACK",
        "dealer_id": "dealer-7",
        "event_time": ms("2026-11-22T18:04:05Z"),
        "attributes": {},
    }
    record.update(overrides)
    return record


def test_money_is_shown_in_currency_units_and_badges_by_name():
    line = format_reward(reward(), color=False)
    assert line.startswith("18:04:05 p-000001")
    assert "+8.50 EUR cashback offer" in line and "loss-streak-5 v2" in line
    assert "dealer dealer-7" in line and "blackjack table bj-01" in line
    badge = format_reward(
        reward(kind="BADGE", amount=1, attributes={"badge": "explorer:roulette"}), color=False
    )
    assert "badge explorer:roulette" in badge
    assert "+10 XP" in format_reward(reward(kind="XP", amount=10, currency=None), color=False)


def test_a_cooldown_line_says_how_long_and_why():
    line = format_cooldown(
        {
            "player_id": "p-000002",
            "reason": "RAPID_LOSS_AMOUNT",
            "starts_at": ms("2026-11-22T18:00:00Z"),
            "ends_at": ms("2026-11-22T18:30:00Z"),
        },
        color=False,
    )
    assert "COOL-DOWN 30 min" in line and "rapid_loss_amount" in line
