"""A happy-hour boost on a running worker: the next bets earn double points until its end."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.rules import DEFAULT_RULESET_PATH
from app.rules.publish import push
from tests.support.factories import table_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]
MIN = 60_000

HAPPY_HOUR = """
  - id: happy-hour
    events: [PLAYER_JOINED]
    once_per: day
    reward:
      kind: MULTIPLIER
      amount: 2
      message: "Double points for the next hour at {table}"
      boost: {kinds: [POINTS], for: 1h}

# Boosts need no marketing consent here, so the test does not race a profile to the worker.
protection:
  marketing_kinds: [CASHBACK_OFFER, CHAT_SHOUTOUT, FREE_SIDE_BET, WHEEL_SPIN]
"""


def test_a_happy_hour_boost_doubles_the_next_bets_points_and_stops_at_its_end(dep, tmp_path):
    rules = tmp_path / "happy-hour.yaml"
    rules.write_text(DEFAULT_RULESET_PATH.read_text() + HAPPY_HOUR)
    asyncio.run(push(dep.settings, rules))
    dep.start_worker()

    player = "p-happy"
    t0 = int(time.time() * 1000) - 2 * 60 * MIN  # event time two hours ago, sent now
    stake = {"bet_type": "main", "stake_minor": 2500, "currency": "EUR"}  # 25 points
    joined = table_event(player_id=player, event_type="PLAYER_JOINED", bet=None, occurred_at=t0)
    bets = [table_event(player_id=player, bet=stake, occurred_at=t0 + m * MIN) for m in (1, 30, 61)]
    dep.produce_events([joined, *bets])

    def mine(records):
        return [r for r in records if r["player_id"] == player]

    rewards = dep.consume(
        dep.settings.topics.rewards,
        "Reward",
        lambda rs: sum(r["rule_id"] == "wager-points" for r in mine(rs)) >= 3,
    )
    points = [r for r in mine(rewards) if r["rule_id"] == "wager-points"]
    assert [(p["trigger_event_ids"], p["amount"]) for p in points] == [
        ([bets[0]["event_id"]], 50),
        ([bets[1]["event_id"]], 50),
        ([bets[2]["event_id"]], 25),  # after the hour: the boost has ended
    ]
    [multiplier] = [r for r in mine(rewards) if r["kind"] == "MULTIPLIER"]
    assert multiplier["attributes"]["boost_ends_at"] == str(t0 + 60 * MIN)

    # The journal may name the player by a pseudonym: its entries are found by reward id.
    ours = {multiplier["reward_id"], *(p["reward_id"] for p in points)}
    journal = [
        e
        for e in dep.consume(
            dep.settings.topics.journal,
            "JournalEntry",
            lambda es: any(e["decision"] == "BOOST_ENDED" for e in es),
        )
        if e["reward_id"] in ours
    ]
    boosts = [e for e in journal if e["decision"].startswith("BOOST_")]
    assert [e["decision"] for e in boosts] == [
        "BOOST_STARTED",
        "BOOST_USED",
        "BOOST_USED",
        "BOOST_ENDED",
    ]
    assert {e["details"].get("boost_id", e["reward_id"]) for e in boosts} == {
        multiplier["reward_id"]
    }
    assert [e["reward_id"] for e in boosts[1:3]] == [p["reward_id"] for p in points[:2]]
    ended = boosts[-1]
    assert (ended["reason"], ended["event_time"]) == ("expired", t0 + 60 * MIN)
    issued = {e["reward_id"]: e for e in journal if e["decision"] == "REWARD_ISSUED"}
    assert [issued[p["reward_id"]]["details"].get("boost") for p in points] == ["2", "2", None]
