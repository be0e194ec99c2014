"""Rewards the player claims: decided (guards, caps) when they fire, held pending in the
player's state, applied and published on the CLAIM, refused when unknown, claimed already or
expired; an unclaimed reward expires on the next input, dated by its deadline."""

from __future__ import annotations

import itertools

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import Decisions, Engine, PlayerState, outputs
from app.core.compile import RulesetError
from app.core.state import CLAIMS_MAX, CooldownState
from app.rules.loader import validate_document
from app.rules.policy import default_policies
from tests.support.hypothesis_profiles import examples
from tests.support.rulesets import PLAYER, ruleset, run
from tests.unit.core.test_store import DAY, T0, bet, command, decisions

HOUR = 3_600_000
CLAIMING = """
protection: {daily_points_cap: null}
rules:
  - id: claim-points
    events: [BET_PLACED]
    reward: {kind: POINTS, amount: 50, claim: {within: 24h}}
  - id: claim-xp
    events: [BET_PLACED]
    once_per: ever
    reward: {kind: XP, amount: 7, claim: {within: 1h}}
store:
  - id: claimed-bonus
    price: 0
    reward: {kind: FREE_SIDE_BET, amount: 1, claim: {within: 2h}}
"""


def engine() -> Engine:
    return Engine(ruleset(CLAIMING))


def pending_ids(state: PlayerState) -> list[str]:
    return [r["reward_id"] for _by, r in state.claims]


def claim(at: int, reward_id: str, command_id: str | None = None) -> dict:
    return command(at, "CLAIM", command_id, reward_id=reward_id)


def test_a_claimable_grant_is_journaled_pending_and_applies_nothing_until_claimed():
    state, out = run(engine(), [bet(T0)])
    issued = decisions(out, "REWARD_ISSUED")
    assert {e["details"]["claim"] for e in issued} == {"pending"}
    points = next(e for e in issued if e["rule_id"] == "claim-points")
    assert points["details"]["claim_by"] == str(T0 + DAY)
    assert not out.rewards and state.balance == 0 and state.xp == 0
    assert sorted(pending_ids(state)) == sorted(e["reward_id"] for e in issued)
    assert PlayerState.from_bytes(state.to_bytes()).claims == state.claims


def test_a_claim_applies_the_value_publishes_the_reward_and_only_once():
    state, out = run(engine(), [bet(T0)])
    points = next(r for _by, r in state.claims if r["rule_id"] == "claim-points")
    state, out = run(
        engine(),
        [claim(T0 + 5, points["reward_id"]), claim(T0 + 6, points["reward_id"])],
        state=state,
        now_ms=99,
    )
    (applied,) = decisions(out, "COMMAND_APPLIED")
    assert applied["reward_id"] == points["reward_id"] and applied["details"]["amount"] == "50"
    (refused,) = decisions(out, "COMMAND_REFUSED")
    assert refused["reason"] == "already_claimed"
    (published,) = out.rewards
    assert published["reward_id"] == points["reward_id"] and published["issued_at"] == 99
    assert state.balance == 50 and state.points == 50
    assert points["reward_id"] not in pending_ids(state)


def test_unknown_and_expired_claims_are_refused_and_expiry_is_dated_by_the_deadline():
    state, out = run(engine(), [bet(T0)])
    xp = next(r for _by, r in state.claims if r["rule_id"] == "claim-xp")
    later = bet(T0 + 2 * HOUR)  # past the XP's hour: it expires on this input
    state, out = run(
        engine(), [later, claim(T0 + 3 * HOUR, xp["reward_id"]), claim(T0 + 3 * HOUR, "nope")],
        state=state,
    )  # fmt: skip
    (gone,) = [e for e in decisions(out, "REWARD_SUPPRESSED") if e["reason"] == "claim_expired"]
    assert gone["reward_id"] == xp["reward_id"] and gone["event_time"] == T0 + HOUR
    reasons = [e["reason"] for e in decisions(out, "COMMAND_REFUSED")]
    assert reasons == ["claim_expired", "unknown_reward"]
    assert state.xp == 0


def test_a_player_in_a_cool_down_cannot_claim_and_the_reward_stays_pending():
    state, _ = run(engine(), [bet(T0)])
    points = next(r for _by, r in state.claims if r["rule_id"] == "claim-points")
    state.cooldown = CooldownState("cd-1", T0 + 1, T0 + HOUR, "RAPID_LOSS_AMOUNT")
    state, out = run(engine(), [claim(T0 + 2, points["reward_id"])], state=state)
    (refused,) = decisions(out, "COMMAND_REFUSED")
    assert refused["reason"] == "cooldown_active" and state.balance == 0
    assert points["reward_id"] in pending_ids(state)
    # the cool-down over, the same reward is claimed
    state, out = run(engine(), [claim(T0 + HOUR, points["reward_id"])], state=state)
    assert [e["reason"] for e in decisions(out, "COMMAND_APPLIED")] == ["claim"]
    assert state.balance == 50


def test_a_claimed_store_item_is_handed_to_fulfilment_on_the_claim():
    state, out = run(engine(), [command(T0, item_id="claimed-bonus")])
    assert not out.rewards and len(state.claims) == 1
    (reward_id,) = pending_ids(state)
    state, out = run(engine(), [claim(T0 + 1, reward_id)], state=state)
    (money,) = out.rewards
    assert money["kind"] == "FREE_SIDE_BET" and money["rule_id"] == "store:claimed-bonus"


def test_beyond_the_most_pending_the_oldest_expires_when_pushed_out():
    events = [bet(T0 + i) for i in range(CLAIMS_MAX)]
    state, out = run(engine(), events)
    assert len(state.claims) == CLAIMS_MAX
    gone = [e for e in decisions(out, "REWARD_SUPPRESSED") if e["reason"] == "claim_expired"]
    assert len(gone) == 1 and gone[0]["rule_id"] == "claim-points"  # the first bet's
    assert gone[0]["reward_id"] not in pending_ids(state)


def test_a_claim_spec_is_checked():
    bad = CLAIMING.replace("claim: {within: 24h}", "claim: {within: soon}")
    with pytest.raises(RulesetError, match=r"claim\.within"):
        ruleset(bad)
    boost = """
    rules:
      - id: b
        events: [BET_PLACED]
        reward: {kind: MULTIPLIER, amount: 2, boost: {for: 1h}, claim: {within: 1h}}
    """
    with pytest.raises(RulesetError, match="not claimed"):
        ruleset(boost)


def test_the_ruleset_schema_takes_claim_and_nothing_else_in_it():
    doc = yaml.safe_load(CLAIMING)
    doc["ruleset"] = "claims"
    assert list(validate_document(doc, "claims.yaml", {}, default_policies())) == []
    doc["store"][0]["reward"]["claim"]["by"] = "tomorrow"
    problems = validate_document(doc, "claims.yaml", {}, default_policies())
    assert problems and all(p.severity == "error" for p in problems)


_ids = itertools.count(1)


@settings(max_examples=examples(60), deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 30 * HOUR), st.integers(0, 9)),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.integers(1, 6), min_size=1, max_size=10),
)
def test_claims_decide_the_same_however_the_batches_fall_and_pay_once(steps, cuts):
    """Bets, and claims (some twice, some late) of their points: cut into batches (the state
    round-tripped through bytes between them) or decided whole, the journal is the same; each
    reward is applied at most once, and the balance is what the claims applied."""
    shop = engine()
    (rule,) = [r for r in shop.ruleset.rules if r.rule_id == "claim-points"]
    events, bets, t = [], [], T0
    for is_bet, gap, ref in steps:
        t += gap
        if is_bet or not bets:
            events.append(bet(t))
            bets.append(outputs.reward_id(rule.rule_id, rule.version, [events[-1]["event_id"]]))
        else:
            events.append(claim(t, bets[ref % len(bets)], f"k-{next(_ids)}"))
    whole_state, whole = run(shop, events)
    state, journal, at = PlayerState(), [], 0
    for size in itertools.cycle(cuts):
        if at >= len(events):
            break
        out = Decisions()
        shop.decide(state, events[at : at + size], PLAYER, 1, out)
        state = PlayerState.from_bytes(state.to_bytes())
        journal += out.journal
        at += size
    assert journal == whole.journal
    assert state.to_bytes() == whole_state.to_bytes()
    claimed = [e["reward_id"] for e in decisions(whole, "COMMAND_APPLIED")]
    assert len(claimed) == len(set(claimed))
    assert whole_state.balance == 50 * len(claimed)
    assert [r["reward_id"] for r in whole.rewards] == claimed


def test_an_a_b_arm_s_pending_grant_is_exposed_as_granted():
    measured = Engine(
        ruleset(
            """
            rules:
              - id: ab
                events: [BET_PLACED]
                variants: [{name: a}, {name: b}]
                reward: {kind: XP, amount: 3, claim: {within: 1h}}
            """
        )
    )
    state, out = run(measured, [bet(T0)])
    (exposed,) = decisions(out, "EXPOSED")
    assert exposed["details"]["granted"] == "true" and len(state.claims) == 1
    (_by, reward), (variant,) = state.claims[0], [exposed["details"]["arm"]]
    state, out = run(measured, [claim(T0 + 1, reward["reward_id"])], state=state)
    assert state.xp == 3 and out.rewards[0]["attributes"]["variant"] == variant
