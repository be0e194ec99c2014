"""Filters: every filter given must match; a record without the field does not."""

from __future__ import annotations

from app.delivery.config import Filter
from app.delivery.filters import matches

REWARD = {"reward_id": "rw-1", "kind": "CASHBACK_OFFER", "rule_id": "cashback"}
ISSUED = {
    "entry_id": "je-1",
    "decision": "REWARD_ISSUED",
    "rule_id": "cashback",
    "details": {"kind": "CASHBACK_OFFER"},
}
LEVEL = {"entry_id": "je-2", "decision": "LEVEL_UP", "rule_id": None, "details": {}}
COOLDOWN = {"cooldown_id": "cd-1", "reason": "RAPID_LOSS_AMOUNT"}


def test_no_filter_passes_everything():
    assert all(matches(Filter(), t, r) for t, r in [("rewards", REWARD), ("cooldowns", COOLDOWN)])


def test_kind_matches_a_reward_and_the_journal_entry_of_one_but_not_other_records():
    wanted = Filter(kinds=frozenset({"CASHBACK_OFFER"}))
    assert matches(wanted, "rewards", REWARD)
    assert matches(wanted, "journal", ISSUED)
    assert not matches(wanted, "journal", LEVEL)
    assert not matches(wanted, "cooldowns", COOLDOWN)
    assert not matches(Filter(kinds=frozenset({"XP"})), "rewards", REWARD)


def test_decision_and_rule_must_both_match_when_both_are_given():
    wanted = Filter(decisions=frozenset({"REWARD_ISSUED"}), rules=frozenset({"cashback"}))
    assert matches(wanted, "journal", ISSUED)
    assert not matches(wanted, "journal", {**ISSUED, "rule_id": "happy-hour"})
    assert not matches(wanted, "journal", LEVEL)
    assert not matches(wanted, "rewards", REWARD)  # a reward has no decision


ALERT = {"alert_id": "je-3", "rule_id": "loss-chasing", "reason": "loss_chasing", "level": "HIGH"}


def test_an_rg_alert_is_filtered_by_what_raised_the_player_and_never_by_kind_or_decision():
    assert matches(Filter(), "rg-alerts", ALERT)
    assert matches(Filter(rules=frozenset({"loss-chasing", "rapid-loss"})), "rg-alerts", ALERT)
    assert not matches(Filter(rules=frozenset({"risk-level"})), "rg-alerts", ALERT)
    assert not matches(Filter(kinds=frozenset({"CASHBACK_OFFER"})), "rg-alerts", ALERT)
    assert not matches(Filter(decisions=frozenset({"COOLDOWN_STARTED"})), "rg-alerts", ALERT)
