"""Account events and interactions in the core: what a deposit changes for rules, a market's
KYC requirement and deposit flags, the responsible-gaming deposit markers, and interactions
journaled (acknowledgements too) without touching anything else."""

from __future__ import annotations

import pytest

from app.core import Engine, PlayerState
from app.core.compile import RulesetError
from app.core.state import CooldownState
from app.pipeline.inputs import account_event, interaction
from app.rules.policy import Policies, default_policies, runtime_view
from tests.support.factories import (
    account_record,
    interaction_record,
    ms,
    natural,
    profile,
    table_event,
)
from tests.support.rulesets import default_engine, of_rule, ruleset, run

T0 = ms("2026-11-22T12:00:00Z")
MIN = 60_000
HOUR = 60 * MIN

RULES = """
ruleset: accounts
currencies: {house: EUR, rates: {GBP: 1.17}}
leaderboards:
  - {id: points-per-game, kind: POINTS, per: game, period: day, top: 10}
  - {id: points-all, kind: POINTS, period: day, top: 10}
rules:
  - id: first-e-wallet-deposit
    events: [DEPOSIT]
    when: event.account.payment_method == "E_WALLET"
    once_per: ever
    reward: {kind: POINTS, amount: 500}
  - id: depositor-natural
    events: [BET_SETTLED]
    when: profile.last_deposit.amount_minor >= 10000 && money.deposit >= 100.0
    reward: {kind: XP, amount: 7}
  - id: natural
    events: [BET_SETTLED]
    when: event.settlement.hand == "natural_blackjack"
    reward: {kind: XP, amount: 10}
"""


def engine(policies: Policies | None = None) -> Engine:
    view = runtime_view(policies or default_policies())
    return Engine(ruleset(RULES), "UTC", view)


def deposit(**overrides: object) -> dict:
    return account_event(account_record("DEPOSIT", **{"occurred_at": T0, **overrides}))[0]


def account(kind: str, **overrides: object) -> dict:
    return account_event(account_record(kind, **{"occurred_at": T0, **overrides}))[0]


def entries(out, decision: str) -> list[dict]:
    return [e for e in out.journal if e["decision"] == decision]


# -- a deposit and what rules see --------------------------------------------------------


def test_a_first_e_wallet_deposit_fires_its_rule_once_and_is_of_no_game():
    first = deposit(payment_method="E_WALLET", amount_minor=2000)
    by_card = deposit(occurred_at=T0 + MIN)
    again = deposit(payment_method="E_WALLET", occurred_at=T0 + 2 * MIN)
    state, out = run(engine(), [first, by_card, again])
    [reward] = out.rewards
    assert (reward["rule_id"], reward["amount"], reward["game"]) == (
        "first-e-wallet-deposit",
        500,
        "OTHER",
    )
    assert reward["trigger_event_ids"] == [first["event_id"]]
    assert first["event_id"].startswith("acct:")
    assert state.points == 500
    # a per-game board counts play at a game; the all-games board counts the deposit
    assert [s[0].split(":")[0] for s in out.scores] == ["points-all"]


def test_a_deposit_is_what_the_profiles_last_deposit_shows_rules_from_then_on():
    player = profile(country="GB", last_deposit={"amount_minor": 1000, "currency": "GBP", "at": 1})
    hand = natural(occurred_at=T0 + MIN)
    _, before = run(engine(), [hand], profile=player)
    assert of_rule(before.rewards, "depositor-natural") == []
    # 100.00 GBP is 117.00 EUR in the house currency
    state, out = run(
        engine(), [deposit(amount_minor=10_000, currency="GBP"), natural(occurred_at=T0 + MIN)]
    )
    assert state.last_deposit == [T0, 11_700, "EUR"]
    assert len(of_rule(out.rewards, "depositor-natural")) == 1
    # a profile that knows a later deposit wins over the account events' older one
    newer = profile(last_deposit={"amount_minor": 50, "currency": "EUR", "at": T0 + 1})
    _, out = run(
        engine(),
        [deposit(amount_minor=10_000), natural(occurred_at=T0 + MIN)],
        profile=newer,
    )
    assert of_rule(out.rewards, "depositor-natural") == []


def test_a_failed_or_late_deposit_does_not_move_the_last_deposit():
    state, _ = run(
        engine(),
        [
            deposit(amount_minor=3000, occurred_at=T0 + MIN),
            deposit(amount_minor=9000, status="FAILED", occurred_at=T0 + 2 * MIN),
            deposit(amount_minor=7000, occurred_at=T0),  # older than the last one
        ],
    )
    assert state.last_deposit == [T0 + MIN, 3000, "EUR"]
    assert [d[1] for d in state.deposits] == [7000, 3000]
    assert PlayerState.from_bytes(state.to_bytes()) == state


def test_logins_and_registrations_decide_nothing_by_themselves():
    state, out = run(engine(), [account("LOGIN"), account("REGISTRATION", occurred_at=T0 + 1)])
    assert out.rewards == out.journal == []
    assert state.kyc is None and not state.markers
    assert out.events == 2


# -- KYC per market ----------------------------------------------------------------------

ITALIAN = profile(country="IT")


def test_an_unverified_player_in_a_kyc_market_gets_nothing_journaled_with_the_reason():
    state, out = run(engine(), [natural(occurred_at=T0)], profile=ITALIAN)
    assert out.rewards == []
    [held] = entries(out, "REWARD_SUPPRESSED")
    assert (held["rule_id"], held["reason"]) == ("natural", "kyc_unverified")
    assert "IT requires verified KYC" in held["details"]["explain"]
    # verified: journaled, and rewards flow
    verified = account("KYC_STATUS_CHANGED", occurred_at=T0 + MIN)
    state, out = run(
        engine(), [verified, natural(occurred_at=T0 + 2 * MIN)], profile=ITALIAN, state=state
    )
    [changed] = entries(out, "ACCOUNT_EVENT")
    assert changed["details"]["kyc_status"] == "VERIFIED"
    assert changed["details"]["before"] == "" and changed["event_ids"] == [verified["event_id"]]
    assert [r["rule_id"] for r in out.rewards] == ["natural"]
    # rejected later: held back again
    rejected = account("KYC_STATUS_CHANGED", kyc_status="REJECTED", occurred_at=T0 + 3 * MIN)
    _, out = run(
        engine(), [rejected, natural(occurred_at=T0 + 4 * MIN)], profile=ITALIAN, state=state
    )
    assert out.rewards == [] and entries(out, "REWARD_SUPPRESSED")[0]["reason"] == "kyc_unverified"


def test_kyc_is_not_asked_where_the_market_does_not_require_it():
    _, out = run(engine(), [natural(occurred_at=T0)], profile=profile(country="GB"))
    assert [r["rule_id"] for r in out.rewards] == ["natural"]
    _, out = run(default_engine(), [natural(occurred_at=T0)], profile=ITALIAN)  # no policy
    assert out.rewards


def test_a_kyc_status_given_at_registration_counts_and_repeating_it_journals_nothing():
    state, out = run(
        engine(),
        [
            account("REGISTRATION", kyc_status="VERIFIED"),
            account("KYC_STATUS_CHANGED", occurred_at=T0 + 1),
        ],
        profile=ITALIAN,
    )
    assert state.kyc == "VERIFIED" and len(entries(out, "ACCOUNT_EVENT")) == 1


# -- deposit flags for the AML team --------------------------------------------------------


def test_a_deposit_over_the_markets_threshold_is_flagged_with_the_figures():
    verified = account("KYC_STATUS_CHANGED")
    big = deposit(amount_minor=250_000, occurred_at=T0 + MIN)
    _, out = run(engine(), [verified, big, deposit(occurred_at=T0 + 2 * MIN)], profile=ITALIAN)
    [flag] = entries(out, "DEPOSIT_FLAGGED")
    assert flag["event_ids"] == [big["event_id"]] and flag["reason"] == "amount_over"
    assert flag["details"] | {"revision": "0"} == {
        "amount_minor": "250000",
        "amount_threshold_minor": "200000",
        "market": "IT",
        "currency": "EUR",
        "revision": "0",
    }
    _, out = run(engine(), [big], profile=profile(country="GB"))  # GB flags nothing
    assert entries(out, "DEPOSIT_FLAGGED") == []


def test_several_deposits_within_the_window_are_flagged_from_the_one_that_makes_the_count():
    deposits = [deposit(occurred_at=T0 + i * 10 * MIN) for i in range(6)]
    _, out = run(engine(), deposits, profile=ITALIAN)
    flags = entries(out, "DEPOSIT_FLAGGED")
    assert [f["event_ids"][0] for f in flags] == [d["event_id"] for d in deposits[4:]]
    assert flags[0]["reason"] == "frequent"
    figures = ("deposits", "count_threshold", "window_seconds")
    assert [flags[1]["details"][k] for k in figures] == ["6", "5", "3600"]
    # the same five spread over more than the hour: none
    spread = [deposit(occurred_at=T0 + i * 16 * MIN) for i in range(5)]
    _, out = run(engine(), spread, profile=ITALIAN)
    assert entries(out, "DEPOSIT_FLAGGED") == []


# -- responsible-gaming deposit markers ----------------------------------------------------


def test_frequent_deposits_raise_the_risk_level_to_medium():
    deposits = [deposit(occurred_at=T0 + i * HOUR) for i in range(5)]
    state, out = run(engine(), deposits, profile=profile(country="GB"))
    assert "deposit_frequency" in state.markers
    [changed] = entries(out, "RISK_LEVEL_CHANGED")
    assert changed["event_ids"] == [deposits[4]["event_id"]]
    assert "deposit_frequency" in changed["details"]["markers"]
    assert state.risk == 2


def test_cancelled_withdrawals_and_failed_deposits_are_low_markers_that_accumulate():
    cancelled = account("WITHDRAWAL_CANCELLED")
    failed = deposit(status="FAILED", occurred_at=T0 + MIN)
    state, _ = run(engine(), [cancelled], profile=profile(country="GB"))
    assert state.markers == {"withdrawal_cancelled": T0} and state.risk == 1
    state, _ = run(engine(), [failed], profile=profile(country="GB"), state=state)
    assert set(state.markers) == {"withdrawal_cancelled", "deposit_failed"}
    assert state.risk == 2  # two distinct low markers: one step up
    also = account("WITHDRAWAL", status="CANCELLED", occurred_at=T0 + 2 * MIN)
    state, _ = run(engine(), [also], state=PlayerState())
    assert "withdrawal_cancelled" in state.markers


def test_deposit_thresholds_come_from_the_rulesets_protection_section():
    text = RULES.replace(
        "leaderboards:", "protection: {deposits: {frequent: 2, within: 10m}}\nleaderboards:"
    )
    strict = Engine(ruleset(text), "UTC")
    state, _ = run(strict, [deposit(), deposit(occurred_at=T0 + 9 * MIN)])
    assert "deposit_frequency" in state.markers
    state, _ = run(strict, [deposit(), deposit(occurred_at=T0 + 11 * MIN)])
    assert "deposit_frequency" not in state.markers


# -- interactions --------------------------------------------------------------------------


def clicked(**overrides: object) -> dict:
    return interaction(interaction_record(**{"recorded_at": T0, **overrides}))[0]


def test_an_interaction_is_journaled_under_its_rule_and_variant_and_changes_nothing_else():
    state, _ = run(default_engine(), [table_event(occurred_at=T0 - MIN)])
    before = PlayerState.from_bytes(state.to_bytes())
    click = clicked()
    state, out = run(default_engine(), [click], state=state)
    [entry] = out.journal
    assert entry["decision"] == "INTERACTION_RECORDED"
    assert (entry["rule_id"], entry["reward_id"], entry["event_ids"]) == (
        "first-natural-blackjack-of-day",
        "rw-1",
        [click["event_id"]],
    )
    assert entry["details"] == {
        "action": "CLICKED",
        "variant": "b",
        "interaction_id": click["interaction"]["interaction_id"],
        "surface": "reward-toast",
        "message_id": "",
        "revision": "0",
    }
    assert out.rewards == out.cooldowns == out.scores == []
    state.seen, before.seen = [], []  # the interaction's id is remembered (re-sends)
    assert state == before


def test_a_re_sent_interaction_is_journaled_once():
    click = clicked(interaction_id="client-42")
    again = clicked(interaction_id="client-42", recorded_at=T0 + 500)
    _, out = run(default_engine(), [click, again])
    assert len(out.journal) == 1 and out.duplicates == 1


def test_acknowledging_a_take_a_break_or_a_reality_check_is_journaled_as_such():
    events = [
        clicked(action="DISMISSED", message_id="cd-1f", reward_id=None, rule_id=None),
        clicked(action="CLAIMED", message_id="je-2e", reward_id=None, rule_id=None),
        clicked(action="SHOWN", message_id="cd-1f", reward_id=None, rule_id=None),
    ]
    _, out = run(default_engine(), events)
    assert [e["details"].get("acknowledges") for e in out.journal] == [
        "cooldown",
        "reality_check",
        None,
    ]


def test_an_interaction_during_a_cool_down_or_a_kyc_hold_is_still_journaled():
    cooling = PlayerState(cooldown=CooldownState("cd-1", T0 - MIN, T0 + HOUR, "LOSS_CHASING"))
    for state, player in ((cooling, None), (PlayerState(), ITALIAN)):
        _, out = run(engine(), [clicked()], profile=player, state=state)
        assert [e["decision"] for e in out.journal] == ["INTERACTION_RECORDED"]


def test_deposit_thresholds_out_of_range_are_refused_naming_the_field():
    for section, path in (
        ("{frequent: 40}", "protection.deposits.frequent"),
        ("{frequent: 1}", "protection.deposits.frequent"),
        ("{within: 8d}", "protection.deposits.within"),
        ("[5]", "protection.deposits"),
    ):
        text = RULES.replace("leaderboards:", f"protection: {{deposits: {section}}}\nleaderboards:")
        with pytest.raises(RulesetError) as caught:
            ruleset(text)
        assert caught.value.path == path, section


def test_a_rule_on_an_account_event_is_checked_against_an_account_events_fields():
    text = RULES.replace('event.account.payment_method == "E_WALLET"', "event.account.methd == 1")
    with pytest.raises(RulesetError, match="fails on a complete DEPOSIT event"):
        ruleset(text)
