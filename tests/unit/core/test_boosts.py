"""Boosts: a MULTIPLIER grant multiplies exactly the later grants in its scope, until its end,
never while a guard holds rewards back, and the caps count what it multiplied."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import Decisions, Engine, PlayerState
from app.core.state import BOOSTS_MAX, CooldownState
from tests.support.factories import ms, profile, table_event
from tests.support.rulesets import PLAYER, ruleset, run

T0 = ms("2026-12-01T18:00:00Z")
MIN = 60_000
HOUR = 60 * MIN

HAPPY_HOUR = """
protection: {daily_points_cap: null}
rules:
  - id: happy-hour
    events: [PLAYER_JOINED]
    reward:
      kind: MULTIPLIER
      amount: 2
      message: "Double points for the next hour at {table}"
      boost: {kinds: [POINTS], for: 1h}
  - id: wager-points
    events: [BET_PLACED]
    reward: {kind: POINTS, amount: event.bet.stake_minor / 100, message: "+{amount} points"}
  - id: bet-xp
    events: [BET_PLACED]
    reward: {kind: XP, amount: 1}
"""


def join(at: int, table: str = "bj-01") -> dict:
    return table_event(event_type="PLAYER_JOINED", bet=None, occurred_at=at, table_id=table)


def bet(at: int, stake: int = 2500, game: str = "BLACKJACK", table: str = "bj-01") -> dict:
    return table_event(
        occurred_at=at,
        game=game,
        table_id=table,
        bet={"bet_type": "main", "stake_minor": stake, "currency": "EUR"},
    )


def chat(at: int, table: str = "bj-01") -> dict:
    return table_event(
        event_type="CHAT_MESSAGE", bet=None, chat_text="hi", occurred_at=at, table_id=table
    )


def points(out: Decisions) -> list[int]:
    return [r["amount"] for r in out.rewards if r["kind"] == "POINTS"]


def entries(out: Decisions, decision: str) -> list[dict]:
    return [e for e in out.journal if e["decision"] == decision]


def test_a_happy_hour_doubles_points_until_its_end_and_journals_start_use_and_end():
    events = [
        join(T0),
        bet(T0 + MIN),
        bet(T0 + 59 * MIN),
        bet(T0 + HOUR),  # the end is exclusive
        bet(T0 + 2 * HOUR),
    ]
    state, out = run(Engine(ruleset(HAPPY_HOUR)), events)
    assert points(out) == [50, 50, 25, 25]
    assert [r["amount"] for r in out.rewards if r["kind"] == "XP"] == [1, 1, 1, 1]  # not in scope
    [multiplier] = [r for r in out.rewards if r["kind"] == "MULTIPLIER"]
    assert multiplier["attributes"]["boost_factor"] == "2"
    assert multiplier["attributes"]["boost_ends_at"] == str(T0 + HOUR)
    [started] = entries(out, "BOOST_STARTED")
    assert started["reward_id"] == multiplier["reward_id"]
    assert started["details"]["factor"] == "2" and started["event_time"] == T0
    used = entries(out, "BOOST_USED")
    assert [(u["details"]["before"], u["details"]["after"]) for u in used] == [("25", "50")] * 2
    assert {u["details"]["boost_id"] for u in used} == {multiplier["reward_id"]}
    [ended] = entries(out, "BOOST_ENDED")
    assert (ended["reason"], ended["event_time"]) == ("expired", T0 + HOUR)
    assert state.boosts == []
    boosted = [
        e for e in entries(out, "REWARD_ISSUED") if e["details"].get("boost") == "2"
    ]  # the factor is journaled on the grants it multiplied
    assert [e["details"]["amount"] for e in boosted] == ["50", "50"]
    assert [r["message"] for r in out.rewards if r["kind"] == "POINTS"][:2] == ["+50 points"] * 2


def test_the_event_that_starts_a_boost_is_not_boosted_by_it():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: boost-on-bet
                events: [BET_PLACED]
                once_per: day
                reward: {kind: MULTIPLIER, boost: {factor: 3, bets: 5}}
              - id: wager-points
                events: [BET_PLACED]
                reward: {kind: POINTS, amount: 10}
            """
        )
    )
    _, out = run(engine, [bet(T0), bet(T0 + MIN)])
    assert points(out) == [10, 30]


def test_a_boost_of_the_next_n_bets_in_its_games_stops_after_n():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: lightning-boost
                events: [CHAT_MESSAGE]
                reward: {kind: MULTIPLIER, amount: 2, boost: {bets: 2, games: [ROULETTE]}}
              - id: wager-points
                events: [BET_PLACED]
                reward: {kind: POINTS, amount: event.bet.stake_minor / 100}
            """
        )
    )
    roulette = [bet(T0 + i * MIN, game="ROULETTE", table="rl-01") for i in (2, 4, 5)]
    events = [chat(T0), bet(T0 + MIN), roulette[0], bet(T0 + 3 * MIN), *roulette[1:]]
    state, out = run(engine, events)
    assert points(out) == [25, 50, 25, 50, 25]  # blackjack neither boosted nor counted
    assert [u["details"]["bets_left"] for u in entries(out, "BOOST_USED")] == ["1", "0"]
    [ended] = entries(out, "BOOST_ENDED")
    assert ended["reason"] == "bets_used"
    assert ended["event_ids"] == [roulette[1]["event_id"]]
    assert state.boosts == []


def test_a_boost_at_the_same_table_leaves_other_tables_alone():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: table-boost
                events: [PLAYER_JOINED]
                reward: {kind: MULTIPLIER, amount: 2, boost: {table: same, for: 10m}}
              - id: wager-points
                events: [BET_PLACED]
                reward: {kind: POINTS, amount: 10}
            """
        )
    )
    _, out = run(
        engine, [join(T0, "bj-07"), bet(T0 + MIN, table="bj-01"), bet(T0 + MIN, table="bj-07")]
    )
    assert points(out) == [10, 20]


def test_overlapping_boosts_apply_the_largest_factor_alone():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: double
                events: [PLAYER_JOINED]
                reward: {kind: MULTIPLIER, amount: 2, boost: {for: 1h}}
              - id: triple
                events: [CHAT_MESSAGE]
                reward: {kind: MULTIPLIER, amount: 3, boost: {for: 10m}}
              - id: wager-points
                events: [BET_PLACED]
                reward: {kind: POINTS, amount: 10}
            """
        )
    )
    _, out = run(engine, [join(T0), chat(T0 + MIN), bet(T0 + 2 * MIN), bet(T0 + 20 * MIN)])
    assert points(out) == [30, 20]  # 3x, not 6x; then the double once the triple ended
    assert [u["rule_id"] for u in entries(out, "BOOST_USED")] == ["triple", "double"]


def test_at_the_limit_a_new_boost_supersedes_the_oldest():
    engine = Engine(ruleset(HAPPY_HOUR))
    joins = [join(T0 + i * MIN) for i in range(BOOSTS_MAX + 1)]
    state, out = run(engine, joins)
    assert len(state.boosts) == BOOSTS_MAX
    [ended] = entries(out, "BOOST_ENDED")
    assert ended["reason"] == "superseded"
    assert ended["reward_id"] == entries(out, "BOOST_STARTED")[0]["reward_id"]


def guarded(**why) -> tuple[PlayerState | None, dict]:
    """A player with a boost running, and the profile (or state) that holds rewards back."""
    state, out = run(Engine(ruleset(HAPPY_HOUR)), [join(T0)])
    assert len(state.boosts) == 1 and entries(out, "BOOST_STARTED")
    if why.pop("cooldown", False):
        state.cooldown = CooldownState("cd-1", T0, T0 + 30 * MIN, "RAPID_LOSS_AMOUNT")
    return state, {**PLAYER, **why}


def test_no_boost_multiplies_while_a_cool_down_self_exclusion_or_harm_flag_holds_back():
    for why in ({"cooldown": True}, {"self_excluded": True}, {"harm_flags": ["affordability"]}):
        state, held_by = guarded(**why)
        _, out = run(Engine(ruleset(HAPPY_HOUR)), [bet(T0 + MIN)], profile=held_by, state=state)
        assert points(out) == [], why
        assert entries(out, "BOOST_USED") == [], why
        wanted = [e["details"]["wanted"] for e in entries(out, "REWARD_SUPPRESSED")]
        assert wanted == ["25", "1"], why  # held back unmultiplied


def test_a_bet_held_back_does_not_use_up_a_boost_of_n_bets():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: boost
                events: [PLAYER_JOINED]
                reward: {kind: MULTIPLIER, amount: 2, boost: {bets: 1}}
              - id: wager-points
                events: [BET_PLACED]
                reward: {kind: POINTS, amount: 10}
            """
        )
    )
    state, _ = run(engine, [join(T0)])
    state, out = run(engine, [bet(T0 + MIN)], profile=profile(self_excluded=True), state=state)
    assert points(out) == [] and len(state.boosts) == 1
    _, out = run(engine, [bet(T0 + 2 * MIN)], state=state)
    assert points(out) == [20]


def test_a_multiplier_held_back_starts_no_boost():
    state = PlayerState(cooldown=CooldownState("cd-1", T0, T0 + 30 * MIN, "LOSS_CHASING"))
    state, out = run(Engine(ruleset(HAPPY_HOUR)), [join(T0 + MIN), bet(T0 + 40 * MIN)], state=state)
    assert state.boosts == [] and entries(out, "BOOST_STARTED") == []
    assert [e["reason"] for e in entries(out, "REWARD_SUPPRESSED")] == ["cooldown_active"]
    assert points(out) == [25]


def test_caps_count_the_multiplied_amount():
    engine = Engine(
        ruleset(
            """
            protection: {daily_points_cap: 120}
            rules:
              - id: happy-hour
                events: [PLAYER_JOINED]
                reward: {kind: MULTIPLIER, amount: 2}
              - id: wager-points
                events: [BET_PLACED]
                caps: {per_day: 90}
                reward: {kind: POINTS, amount: 25}
              - id: bonus
                events: [BET_PLACED]
                reward: {kind: POINTS, amount: 20}
            """
        )
    )
    _, out = run(engine, [join(T0), bet(T0 + MIN), bet(T0 + 2 * MIN)])
    # 50 + 40; then of 2 x 25 the rule cap lets 40 through and the daily cap 30, then 0 of 40
    assert points(out) == [50, 40, 30]
    held = [(e["reason"], e["details"]["amount"], e["details"]["wanted"])
            for e in entries(out, "REWARD_SUPPRESSED")]  # fmt: skip
    assert held == [
        ("rule_cap_day", "10", "50"),
        ("daily_cap", "10", "50"),
        ("daily_cap", "40", "40"),
    ]


def test_a_boost_survives_the_state_record_and_weighs_little():
    state, _ = run(Engine(ruleset(HAPPY_HOUR)), [join(T0)])
    data = state.to_bytes()
    assert PlayerState.from_bytes(data) == state
    without = PlayerState.from_bytes(data)
    without.boosts = []
    assert len(data) - len(without.to_bytes()) < 140, len(data) - len(without.to_bytes())


# -- properties -----------------------------------------------------------------------------

PROPERTY_RULES = """
protection: {daily_points_cap: null}
rules:
  - id: double-half-hour
    events: [PLAYER_JOINED]
    reward: {kind: MULTIPLIER, amount: 2, boost: {for: 30m}}
  - id: triple-two-roulette-bets
    events: [CHAT_MESSAGE]
    reward: {kind: MULTIPLIER, amount: 3, boost: {bets: 2, games: [ROULETTE]}}
  - id: wager-points
    events: [BET_PLACED]
    reward: {kind: POINTS, amount: event.bet.stake_minor / 100}
"""
PROPERTY_ENGINE = Engine(ruleset(PROPERTY_RULES))


@st.composite
def plays(draw) -> list[dict]:
    """One player's events in time order: joins, chat lines and bets on two games."""
    t, events = T0, []
    for _ in range(draw(st.integers(1, 30))):
        t += draw(st.integers(0, 20)) * MIN
        kind = draw(st.sampled_from(["join", "chat", "bet", "bet", "bet"]))
        if kind == "join":
            events.append(join(t))
        elif kind == "chat":
            events.append(chat(t))
        else:
            game = draw(st.sampled_from(["BLACKJACK", "ROULETTE"]))
            events.append(bet(t, stake=draw(st.sampled_from([100, 2500, 3300])), game=game))
    return events


def expected_points(events: list[dict]) -> list[int]:
    """An independent model: the largest factor in scope, never compounded."""
    running: list[dict] = []
    out = []
    for e in events:
        t = e["occurred_at"]
        running = [b for b in running if b["ends"] is None or t < b["ends"]]
        if e["event_type"] in ("PLAYER_JOINED", "CHAT_MESSAGE"):
            if len(running) >= BOOSTS_MAX:
                running.pop(0)
            if e["event_type"] == "PLAYER_JOINED":
                running.append({"factor": 2, "ends": t + 30 * MIN, "bets": None, "game": None})
            else:
                running.append({"factor": 3, "ends": None, "bets": 2, "game": "ROULETTE"})
            continue
        base = e["bet"]["stake_minor"] // 100
        best = None
        for b in running:
            if b["game"] in (None, e["game"]) and (best is None or b["factor"] > best["factor"]):
                best = b
        out.append(base * (best["factor"] if best else 1))
        if best is not None and best["bets"] is not None:
            best["bets"] -= 1
            if best["bets"] == 0:
                running.remove(best)
    return out


@settings(max_examples=150, deadline=None)
@given(events=plays())
def test_boosts_multiply_exactly_the_grants_in_scope(events):
    _, out = run(PROPERTY_ENGINE, events)
    expected = expected_points(events)
    assert points(out) == expected
    bases = [e["bet"]["stake_minor"] // 100 for e in events if e["event_type"] == "BET_PLACED"]
    boosted = [
        e
        for e in entries(out, "REWARD_ISSUED")
        if e["rule_id"] == "wager-points" and "boost" in e["details"]
    ]
    assert (
        len(entries(out, "BOOST_USED"))
        == len(boosted)
        == sum(1 for got, base in zip(expected, bases, strict=True) if got != base)
    )


@settings(max_examples=60, deadline=None)
@given(events=plays())
def test_nothing_is_boosted_or_granted_for_a_self_excluded_player(events):
    _, out = run(PROPERTY_ENGINE, events, profile=profile(self_excluded=True))
    assert out.rewards == []
    assert not any(e["decision"].startswith("BOOST_") for e in out.journal)


@settings(max_examples=100, deadline=None)
@given(events=plays(), data=st.data())
def test_the_journal_does_not_depend_on_where_the_events_were_cut_into_batches(events, data):
    whole = Decisions()
    PROPERTY_ENGINE.decide(PlayerState(), list(events), PLAYER, 1, whole)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=5)))
    parts, state, start = Decisions(), PlayerState(), 0
    for end in [*cuts, len(events)]:
        if end > start:
            state = PlayerState.from_bytes(state.to_bytes())  # written and read between batches
            PROPERTY_ENGINE.decide(state, events[start:end], PLAYER, 1, parts)
            start = end
    assert parts.journal == whole.journal
    assert parts.rewards == whole.rewards


def test_a_boost_used_and_superseded_on_the_same_bet_ends_once():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: triple-next-bet
                events: [CHAT_MESSAGE]
                reward: {kind: MULTIPLIER, amount: 3, boost: {bets: 1}}
              - id: double
                events: [PLAYER_JOINED]
                reward: {kind: MULTIPLIER, amount: 2}
              - id: wager-points
                events: [BET_PLACED]
                reward: {kind: POINTS, amount: 10}
              - id: boost-on-bet
                events: [BET_PLACED]
                reward: {kind: MULTIPLIER, amount: 2}
            """
        )
    )
    fill = [chat(T0)] + [join(T0 + i) for i in range(1, BOOSTS_MAX)]
    state, out = run(engine, [*fill, bet(T0 + MIN)])
    # the triple, the oldest, multiplies the bet, then the bet's own boost supersedes it
    assert points(out) == [30]
    [ended] = entries(out, "BOOST_ENDED")
    assert (ended["rule_id"], ended["reason"]) == ("triple-next-bet", "superseded")
    assert len(state.boosts) == BOOSTS_MAX
