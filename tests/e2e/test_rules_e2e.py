"""CRM managers change the rules of a running worker: push, and the next events obey."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from app.devtools.deployment import get_json, wait_for
from app.rules import DEFAULT_RULESET_PATH
from app.rules.publish import push
from tests.support.factories import natural, table_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_a_pushed_rule_change_fires_with_its_new_version_on_a_running_worker(dep, tmp_path):
    published, _ = asyncio.run(push(dep.settings, DEFAULT_RULESET_PATH))
    assert published["revision"] == 1
    dep.start_worker()
    rules_url = f"{dep.web_url}/pitboss/rules/"
    wait_for(
        lambda: get_json(rules_url, dep.token("auditor"))["revision"] == 1,
        what="the worker runs revision 1",
    )

    now = int(time.time() * 1000)
    before = natural(player_id="p-before", occurred_at=now)
    dep.produce_events([before])
    [first] = [
        r
        for r in dep.consume(dep.settings.topics.rewards, "Reward", lambda rs: len(rs) >= 1)
        if r["player_id"] == "p-before"
    ]
    assert (first["rule_version"], first["amount"]) == (1, 10)

    changed = tmp_path / "rules.yaml"
    changed.write_text(
        DEFAULT_RULESET_PATH.read_text().replace(
            'amount: 10\n      message: "First natural blackjack of the day: +10 XP"',
            'amount: 25\n      message: "First natural blackjack of the day: +25 XP"',
        )
    )
    published, diff = asyncio.run(push(dep.settings, changed))
    assert published["revision"] == 2
    assert "first-natural-blackjack-of-day" in diff.render()
    wait_for(
        lambda: get_json(rules_url, dep.token("auditor"))["revision"] == 2,
        what="the worker runs revision 2",
    )
    live = {r["id"]: r["version"] for r in get_json(rules_url, dep.token("auditor"))["rules"]}
    assert live["first-natural-blackjack-of-day"] == 2 and live["loss-streak-5"] == 1

    after = natural(player_id="p-after", occurred_at=now + 1)
    stake = table_event(player_id="p-after", occurred_at=now + 2)  # 25.00 staked
    dep.produce_events([after, stake])
    rewards = dep.consume(
        dep.settings.topics.rewards,
        "Reward",
        lambda rs: sum(r["player_id"] == "p-after" for r in rs) >= 3,
    )
    mine = {r["rule_id"]: r for r in rewards if r["player_id"] == "p-after"}
    assert (
        mine["first-natural-blackjack-of-day"]["rule_version"],
        mine["first-natural-blackjack-of-day"]["amount"],
    ) == (2, 25)
    assert mine["wager-points"]["amount"] == 25
    journal = dep.consume(
        dep.settings.topics.journal,
        "JournalEntry",
        lambda es: any(
            e["reward_id"] == mine["first-natural-blackjack-of-day"]["reward_id"] for e in es
        ),
    )
    [entry] = [
        e for e in journal if e["reward_id"] == mine["first-natural-blackjack-of-day"]["reward_id"]
    ]
    assert (entry["decision"], entry["rule_version"]) == ("REWARD_ISSUED", 2)

    # The wagering points reached the day's leaderboard for blackjack.
    day = datetime.fromtimestamp(now / 1000, UTC).date().isoformat()
    board_url = f"{dep.web_url}/pitboss/leaderboards/points-per-game-daily:BLACKJACK:{day}/"

    def board():
        try:
            return get_json(board_url, dep.token("auditor"))["top"]
        except urllib.error.HTTPError:
            return None

    top = wait_for(board, what="the leaderboard")
    assert [(t["player_id"], t["total"]) for t in top] == [("p-after", 25)]
