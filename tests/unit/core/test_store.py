"""The points wallet and store: a balance that never goes negative, purchases checked against
the item's window, countries, per-player limits and stock, a re-sent command that decides
nothing, points that expire, and badges kept in the player's state."""

from __future__ import annotations

import itertools

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import Decisions, Engine, PlayerState
from app.core.compile import RulesetError
from app.core.state import CooldownState
from app.core.store import Stock
from app.core.wallet import period_index
from app.pipeline.inputs import player_command
from app.rules.loader import validate_document
from app.rules.policy import default_policies
from tests.support.factories import ms, table_event
from tests.support.hypothesis_profiles import examples
from tests.support.rulesets import PLAYER, ruleset, run

T0 = ms("2026-12-01T18:00:00Z")
DAY = 86_400_000
_ids = itertools.count(1)

STORE = """
protection: {daily_points_cap: null}
rules:
  - id: wager-points
    events: [BET_PLACED]
    reward: {kind: POINTS, amount: event.bet.stake_minor / 100}
  - id: explorer
    events: [BET_PLACED]
    per: game
    once_per: ever
    reward: {kind: BADGE, badge: "explorer:{game}"}
  - id: collector
    events: [BET_PLACED]
    when: size(state.badges) >= 2 && state.balance >= 10
    once_per: ever
    reward: {kind: XP, amount: 5}
store:
  - id: free-spin
    price: 100
    reward: {kind: WHEEL_SPIN, amount: 1, minigame: lucky-wheel}
    per_player: {per_day: 1, per_week: 2}
  - id: golden-chip
    price: 30
    stock: 2
    reward: {kind: BADGE, badge: golden-chip}
  - id: xmas-boost
    price: 10
    available: {from: "2026-12-24T00:00:00Z", until: "2026-12-27T00:00:00Z"}
    reward: {kind: MULTIPLIER, amount: 2, boost: {for: 1h}}
  - id: swedish-side-bet
    price: 10
    countries: [SE]
    reward: {kind: FREE_SIDE_BET, amount: 1}
minigames:
  - id: lucky-wheel
    type: wheel
    sectors:
      - {weight: 1}
      - {weight: 1, reward: {kind: POINTS, amount: 20}}
"""


def bet(at: int, stake: int = 10_000, game: str = "BLACKJACK") -> dict:
    return table_event(
        occurred_at=at, game=game, bet={"bet_type": "main", "stake_minor": stake, "currency": "EUR"}
    )


def command(at: int, kind: str = "PURCHASE", command_id: str | None = None, **fields) -> dict:
    event, problem = player_command(
        {
            "command_id": command_id or f"c-{next(_ids)}",
            "player_id": "p-000001",
            "type": kind,
            "occurred_at": at,
            **fields,
        }
    )
    assert problem is None
    return event


def decisions(out: Decisions, decision: str) -> list[dict]:
    return [e for e in out.journal if e["decision"] == decision]


def test_a_purchase_spends_points_and_grants_the_item_through_the_issue_path():
    engine = Engine(ruleset(STORE))
    state, out = run(engine, [bet(T0), command(T0 + 1, item_id="golden-chip")])
    assert state.balance == 100 - 30 and state.points == 100  # earned stays earned
    (applied,) = decisions(out, "COMMAND_APPLIED")
    assert applied["rule_id"] == "store:golden-chip"
    assert applied["details"]["price"] == "30" and applied["details"]["balance"] == "70"
    (badge,) = [r for r in out.rewards if r["kind"] == "BADGE" and r["rule_id"].startswith("store")]
    assert badge["reward_id"] == applied["reward_id"] and badge["game"] == "OTHER"
    assert "golden-chip" in state.badges
    assert [e["reward_id"] for e in decisions(out, "REWARD_ISSUED")][-1] == badge["reward_id"]


def test_a_purchase_beyond_the_balance_is_refused_and_spends_nothing():
    state, out = run(
        Engine(ruleset(STORE)), [bet(T0, stake=5000), command(T0 + 1, item_id="free-spin")]
    )
    (refused,) = decisions(out, "COMMAND_REFUSED")
    assert refused["reason"] == "insufficient_points"
    assert state.balance == 50 and not state.spins


def test_per_player_limits_per_day_and_week():
    engine = Engine(ruleset(STORE))
    events = [bet(T0 + i * 1000, stake=100_000) for i in range(3)]  # 3,000 points
    for day in range(3):
        events += [command(T0 + day * DAY + 10_000 + i, item_id="free-spin") for i in range(2)]
    state, out = run(engine, events)
    outcomes = [
        (e["decision"], e["reason"]) for e in out.journal if e["decision"].startswith("COMMAND")
    ]
    assert outcomes == [
        ("COMMAND_APPLIED", "purchase"),
        ("COMMAND_REFUSED", "player_limit_day"),
        ("COMMAND_APPLIED", "purchase"),
        ("COMMAND_REFUSED", "player_limit_day"),
        ("COMMAND_REFUSED", "player_limit_week"),
        ("COMMAND_REFUSED", "player_limit_week"),
    ]
    assert state.balance == 3000 - 200 and len(state.spins) == 2


def test_stock_overall_is_each_partitions_share_and_counts_across_players():
    engine = Engine(ruleset(STORE))
    stock = Stock()
    outcomes = []
    for player in ("p-1", "p-2", "p-3"):
        events = [
            {**bet(T0), "player_id": player},
            {**command(T0 + 1, item_id="golden-chip"), "player_id": player},
        ]
        out = Decisions()
        engine.decide(PlayerState(), events, PLAYER, 1, out, stock=stock)
        outcomes += [e["reason"] for e in out.journal if e["decision"].startswith("COMMAND")]
    assert outcomes == ["purchase", "purchase", "out_of_stock"]
    assert stock.sold == {"golden-chip": 2}
    # split over partitions, the shares add up to the whole stock
    assert sum(Stock(partition=p, partitions=3).share(2) for p in range(3)) == 2
    assert [Stock(partition=p, partitions=4).share(10) for p in range(4)] == [3, 3, 2, 2]


def test_windows_and_countries():
    engine = Engine(ruleset(STORE))
    xmas = ms("2026-12-25T10:00:00Z")
    events = [
        bet(T0),
        command(T0 + 1, item_id="xmas-boost"),
        bet(xmas),
        command(xmas + 1, item_id="xmas-boost"),
    ]
    events += [command(xmas + 2, item_id="swedish-side-bet"), command(xmas + 3, item_id="nope")]
    _, out = run(engine, events)  # the sample player is in GB
    reasons = [e["reason"] for e in out.journal if e["decision"].startswith("COMMAND")]
    assert reasons == ["not_available", "purchase", "not_offered_in_country", "unknown_item"]
    _, out = run(
        engine,
        [bet(T0), command(T0 + 1, item_id="swedish-side-bet")],
        profile={**PLAYER, "country": "se"},
    )
    assert [e["reason"] for e in decisions(out, "COMMAND_APPLIED")] == ["purchase"]


def test_a_purchase_during_a_cool_down_is_refused_with_the_guard_and_costs_nothing():
    state = PlayerState(balance=500)
    state.cooldown = CooldownState("cd-1", T0, T0 + DAY, "RAPID_LOSS_AMOUNT")
    state, out = run(Engine(ruleset(STORE)), [command(T0 + 1, item_id="free-spin")], state=state)
    (refused,) = decisions(out, "COMMAND_REFUSED")
    assert refused["reason"] == "cooldown_active" and state.balance == 500 and not out.rewards


def test_a_re_sent_command_decides_nothing_twice():
    engine = Engine(ruleset(STORE))
    first = command(T0 + 1, item_id="golden-chip", command_id="same")
    # re-sent much later, past the re-delivery memory of 32 events
    later = [bet(T0 + 10 + i) for i in range(40)]
    again = command(T0 + 100, item_id="golden-chip", command_id="same")
    state, out = run(engine, [bet(T0), first, *later, again])
    assert len([e for e in out.journal if e["decision"].startswith("COMMAND")]) == 1
    assert state.balance == 100 * 41 - 30
    assert out.duplicates == 1


def test_unsupported_commands_are_refused_with_the_reason():
    _, out = run(Engine(ruleset(STORE)), [command(T0, "OTHER", target_id="m-1")])
    (refused,) = decisions(out, "COMMAND_REFUSED")
    assert refused["reason"] == "unsupported_command" and refused["details"]["target_id"] == "m-1"


def test_badges_are_kept_in_state_and_rules_read_them_and_the_balance():
    engine = Engine(ruleset(STORE))
    state, out = run(engine, [bet(T0), bet(T0 + 1, game="ROULETTE"), bet(T0 + 2, game="ROULETTE")])
    assert state.badges == ["explorer:blackjack", "explorer:roulette"]
    # the collector rule sees two badges (on the second bet, after explorer:roulette)
    assert [r["rule_id"] for r in out.rewards if r["kind"] == "XP"] == ["collector"]
    assert PlayerState.from_bytes(state.to_bytes()) == state
    # a state written before badges were kept reads as having none
    assert PlayerState.from_bytes(b'{"v":2,"pt":5}').badges == []


EXPIRY = """
protection: {daily_points_cap: null}
points_expiry: {period: week, after: 2}
rules:
  - id: wager-points
    events: [BET_PLACED]
    reward: {kind: POINTS, amount: 10}
store:
  - id: chip
    price: 15
    reward: {kind: XP, amount: 1}
"""


def test_points_expire_by_period_oldest_first_on_the_next_input_dated_by_their_expiry():
    engine = Engine(ruleset(EXPIRY))
    monday = ms("2026-11-30T10:00:00Z")  # a Monday
    week = 7 * DAY
    events = [
        bet(monday),
        bet(monday + 1),
        bet(monday + week),
        command(monday + week + 1, item_id="chip"),
    ]
    # week 1 earned 20, week 2 earned 10; the purchase takes 15 from week 1 (oldest first)
    state, out = run(engine, events)
    assert state.balance == 15 and state.expiring == [
        [_week(monday), 5],
        [_week(monday + week), 10],
    ]
    # week 1's points expire two weeks after it ends: at the start of week 4
    expires = monday + 3 * week - 10 * 3_600_000  # Monday 00:00 UTC of week 4
    state, out = run(engine, [bet(expires + 8 * DAY)], state=state)
    expired = decisions(out, "POINTS_EXPIRED")
    assert [(e["event_time"], e["details"]["amount"]) for e in expired] == [
        (expires, "5"),
        (expires + week, "10"),
    ]
    assert state.balance == 10  # only the new bet's points


def _week(t: int) -> int:
    return period_index("week", t)


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["bet", "chip", "big"]), st.integers(0, 3 * DAY)),
        max_size=40,
    )
)
def test_the_balance_never_goes_negative_and_adds_up(steps):
    doc = EXPIRY.replace("after: 2", "after: 0").replace("period: week", "period: day")
    doc += """
  - id: big
    price: 45
    reward: {kind: XP, amount: 1}
"""
    engine = Engine(ruleset(doc))
    state, t = PlayerState(), T0
    earned = spent = expired = 0
    for kind, gap in steps:
        t += gap
        event = bet(t) if kind == "bet" else command(t, item_id=kind)
        state, out = run(engine, [event], state=state)
        assert state.balance >= 0
        assert sum(b[1] for b in state.expiring) <= state.balance
        earned += sum(r["amount"] for r in out.rewards if r["kind"] == "POINTS")
        spent += sum(int(e["details"]["price"]) for e in decisions(out, "COMMAND_APPLIED"))
        expired += sum(int(e["details"]["amount"]) for e in decisions(out, "POINTS_EXPIRED"))
    assert state.balance == earned - spent - expired


def test_store_and_minigame_mistakes_are_refused_naming_the_field():
    base = "rules: []\n"
    cases = {
        "store:\n  - {id: a, price: -1, reward: {kind: XP}}": "store[0].price",
        "store:\n  - {id: a, price: 1, reward: {kind: XP, amount: event.bet.stake_minor}}": (
            "store[0].reward.amount"
        ),
        "store:\n  - {id: a, price: 1, stok: 3, reward: {kind: XP}}": "store[0].stok",
        "store:\n  - {id: a, price: 1, reward: {kind: XP}}\n  - {id: a, price: 2}": "store[1].id",
        "store:\n  - {id: a, price: 1, countries: [GBR], reward: {kind: XP}}": "store[0].countries",
        "store:\n  - {id: a, price: 1, reward: {kind: WHEEL_SPIN, minigame: nope}}": (
            "reward.minigame"
        ),
        "store:\n  - {id: a, price: 1, reward: {kind: XP, minigame: w}}": (
            "store[0].reward.minigame"
        ),
        "minigames:\n  - {id: w, sectors: [{weight: 1}]}": "minigames[0].sectors",
        "minigames:\n  - {id: w, type: dice, sectors: [{weight: 1}, {weight: 1}]}": (
            "minigames[0].type"
        ),
        "minigames:\n  - {id: w, sectors: [{weight: 0}, {weight: 1}]}": (
            "minigames[0].sectors[0].weight"
        ),
        "points_expiry: {period: month, after: 3}": "points_expiry.period",
        "points_expiry: {period: week}": "points_expiry.after",
    }
    for text, path in cases.items():
        with pytest.raises(RulesetError) as raised:
            ruleset(base + text)
        assert raised.value.path == path, (text, raised.value)


def test_the_ruleset_schema_takes_the_store_minigames_and_expiry_sections():
    doc = yaml.safe_load(STORE + "points_expiry: {period: week, after: 12}\n")
    doc["ruleset"] = "shop"
    assert [p for p in validate_document(doc, "shop.yaml", {}, default_policies())] == []
    doc["store"][0]["stok"] = 3
    problems = validate_document(doc, "shop.yaml", {}, default_policies())
    assert problems and all(p.severity == "error" for p in problems)


@settings(max_examples=examples(100), deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]), min_size=1, max_size=30),
    st.lists(st.integers(1, 5), min_size=1, max_size=30),
)
def test_every_command_id_is_decided_once_however_often_it_is_sent(ids, batch_sizes):
    """Up to eight distinct ids (what a state remembers), re-sent in any order, across batches."""
    engine = Engine(ruleset(STORE))
    events = [bet(T0, stake=1_000_000)]
    events += [command(T0 + 1 + i, item_id="golden-chip", command_id=c) for i, c in enumerate(ids)]
    state, decided, at, stock = PlayerState(), [], 0, Stock()
    for size in itertools.cycle(batch_sizes):
        if at >= len(events):
            break
        out = Decisions()
        engine.decide(state, events[at : at + size], PLAYER, 1, out, stock=stock)
        decided += [e["details"]["command_id"] for e in out.journal if "command_id" in e["details"]]
        at += size
    assert sorted(decided) == sorted(set(ids))
    assert state.balance == 10_000 - 30 * min(2, len(set(ids)))  # the stock is 2
