"""The overview reads the worker's own metrics: what the metrics count is what the page
shows, grouped the way the page draws it."""

from __future__ import annotations

from app.console.overview import overview, rule_outcomes
from app.metrics.consumer import ConsumerState
from app.metrics.definitions import (
    AMOUNTS,
    DEAD_LETTERS,
    DECISIONS,
    EVENTS,
    JOURNAL,
    REGISTRY,
    SUPPRESSIONS,
)


def test_the_overview_moves_with_the_metrics():
    consumer = ConsumerState(lag={("table-events", 1): 7, ("table-events", 0): 2}, ready=True)
    before = overview(REGISTRY, consumer, 0, "w-1")
    EVENTS.inc(5)
    JOURNAL.labels("REWARD_ISSUED").inc(3)
    DECISIONS.labels("rule-overview-a", "XP", "issued").inc(2)
    DECISIONS.labels("rule-overview-b", "POINTS", "issued").inc(1)
    DECISIONS.labels("rule-overview-b", "POINTS", "suppressed").inc(4)
    SUPPRESSIONS.labels("reason-overview").inc(4)
    AMOUNTS.labels("XP", "").inc(20)
    DEAD_LETTERS.inc(1)
    after = overview(REGISTRY, consumer, 3, "w-1")

    moved = {k: after["totals"][k] - before["totals"][k] for k in after["totals"]}
    assert moved == {
        "events": 5,
        "decisions": 3,
        "rewards": 3,
        "suppressions": 4,
        "dead_letters": 1,
    }
    assert after["rewards_by_rule"]["rule-overview-a"] == 2
    assert after["rewards_by_rule"]["rule-overview-b"] == 1  # the suppressed are not rewards
    assert after["suppressions_by_reason"]["reason-overview"] == 4
    assert after["amounts_by_kind"]["XP"] - before["amounts_by_kind"].get("XP", 0) == 20
    assert after["cooldowns_running"] == 3 and after["ready"] and after["worker_id"] == "w-1"
    assert after["lag"] == [
        {"topic": "table-events", "partition": 0, "records": 2},
        {"topic": "table-events", "partition": 1, "records": 7},
    ]
    assert rule_outcomes(REGISTRY)["rule-overview-b"] == {"issued": 1, "suppressed": 4}


def test_groups_are_largest_first():
    DECISIONS.labels("rule-overview-small", "XP", "issued").inc(1)
    DECISIONS.labels("rule-overview-big", "XP", "issued").inc(1_000)
    rules = list(overview(REGISTRY, ConsumerState(), 0, "w")["rewards_by_rule"])
    assert rules.index("rule-overview-big") < rules.index("rule-overview-small")
