"""Responsible gaming on a running worker: a rapid-loss burst pauses every incentive."""

from __future__ import annotations

import time

import pytest

from app.pipeline.ingest import partition_for
from tests.support.factories import settled, table_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]
MIN = 60_000


def test_a_rapid_loss_burst_gives_a_cooldown_and_suppressed_rewards_within_a_second(dep):
    dep.start_worker()
    player = "p-burst"
    t0 = int(time.time() * 1000) - 40 * MIN  # event time 40 minutes ago, sent now
    losing = {"bet_type": "main", "stake_minor": 9375, "currency": "EUR"}  # 8 of them: 750.00
    burst = [
        settled("LOSS", player_id=player, bet=losing, occurred_at=t0 + i * 30_000) for i in range(8)
    ]
    small = {"bet_type": "main", "stake_minor": 1000, "currency": "EUR"}
    after = table_event(player_id=player, occurred_at=t0 + 8 * 30_000, bet=small)  # 10 points
    sent_at = int(time.time() * 1000)
    dep.produce_events([*burst, after])

    [cooldown] = dep.consume(dep.settings.topics.cooldowns, "CoolDown", lambda cs: len(cs) >= 1)
    assert (cooldown["player_id"], cooldown["reason"]) == (player, "RAPID_LOSS_AMOUNT")
    assert cooldown["trigger_event_ids"] == [burst[-1]["event_id"]]
    assert cooldown["ends_at"] == burst[-1]["occurred_at"] + 30 * MIN
    assert cooldown["issued_at"] - sent_at < 1000, "decided more than a second after it was sent"

    named = dep.named(player)  # the journal names the player by their secret's pseudonym

    def mine(entries):
        return [e for e in entries if e["player_id"] == named]

    journal = dep.consume(
        dep.settings.topics.journal,
        "JournalEntry",
        lambda es: any(e["rule_id"] == "wager-points" for e in mine(es)),
    )
    decisions = [e["decision"] for e in mine(journal)]
    assert "COOLDOWN_STARTED" in decisions
    [risen] = [e for e in mine(journal) if e["decision"] == "RISK_LEVEL_CHANGED"]
    assert (risen["reason"], risen["details"]["markers"]) == ("none -> high", "rapid_loss_amount")
    held = {e["rule_id"]: e for e in mine(journal) if e["decision"] == "REWARD_SUPPRESSED"}
    # (the 5th loss's cashback was held too: a player with no profile has no consent)
    assert held["loss-streak-5"]["reason"] == "no_consent"
    held = held["wager-points"]
    assert held["reason"] == "cooldown_active"
    assert held["event_ids"] == [after["event_id"]]
    assert held["recorded_at"] - sent_at < 1000

    # The player goes quiet; another player's event on the same partition, past the
    # cool-down's end, ends it.
    n = dep.settings.partitions
    neighbour = next(
        f"p-n{i}" for i in range(1000) if partition_for(f"p-n{i}", n) == partition_for(player, n)
    )
    dep.produce_events([table_event(player_id=neighbour, occurred_at=int(time.time() * 1000))])
    journal = dep.consume(
        dep.settings.topics.journal,
        "JournalEntry",
        lambda es: any(e["decision"] == "COOLDOWN_ENDED" for e in mine(es)),
    )
    [ended] = [e for e in mine(journal) if e["decision"] == "COOLDOWN_ENDED"]
    assert ended["event_time"] == cooldown["ends_at"]
    assert ended["details"]["cooldown_id"] == cooldown["cooldown_id"]
