"""Timeline entries in words: every hold reason the core writes reads as a sentence, and the
ones that reveal a harm signal say nothing of it to a viewer without RG access."""

from __future__ import annotations

import pytest

from app.console.words import PROTECTED, RG_HOLDS, decision_words, explain


def held(reason: str, explain_text: str = "") -> dict:
    return {
        "decision": "REWARD_SUPPRESSED",
        "reason": reason,
        "details": {"kind": "XP", "amount": "10", "wanted": "10", "explain": explain_text},
    }


def test_a_consent_hold_reads_as_a_sentence_with_its_figures():
    entry = held("no_consent", "no marketing consent for casino by widget")
    assert explain(entry, rg_visible=False) == (
        "Held back (10 of 10 XP): the player has not consented to this kind of marketing "
        "(no marketing consent for casino by widget)."
    )


def test_a_rule_cap_names_its_period():
    text = explain(held("rule_cap_week", "wager-points pays at most 500 a week"), False)
    assert "the rule's cap per week was reached" in text and "500 a week" in text


@pytest.mark.parametrize("reason", sorted(RG_HOLDS))
def test_rg_holds_reveal_nothing_without_rg_access(reason):
    entry = held(reason, "harm flags on the profile: chasing_losses")
    hidden = explain(entry, rg_visible=False)
    assert PROTECTED in hidden and "chasing_losses" not in hidden and reason not in hidden
    assert "chasing_losses" in explain(entry, rg_visible=True)


def test_cool_downs_are_worded_for_rg_access_only():
    started = {"decision": "COOLDOWN_STARTED", "reason": "rapid_loss_count", "details": {}}
    assert "Losses mounted quickly" in explain(started, rg_visible=True)
    assert "losses" not in explain(started, rg_visible=False)


def test_other_decisions_keep_the_core_s_own_reason():
    issued = {"decision": "REWARD_ISSUED", "reason": "wager-points v1 matched", "details": {}}
    assert explain(issued, rg_visible=False) == "Wager-points v1 matched."
    late = {"decision": "EVENT_REJECTED", "reason": "late", "details": {}}
    assert "arrived too late" in explain(late, rg_visible=False)
    assert decision_words("REWARD_SUPPRESSED") == "Reward held back"
    assert decision_words("SOMETHING_NEW") == "Something new"
