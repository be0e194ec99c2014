"""The shipped ruleset, rule by rule, on crafted sequences of table events."""

from __future__ import annotations

from tests.support.factories import ms, natural, settled, table_event
from tests.support.rulesets import default_engine, of_rule, run

T0 = ms("2026-11-24T12:00:00Z")  # outside the default ruleset's promo window


def bet(stake=1000, bet_type="main", game="BLACKJACK", at=T0, **kw):
    return table_event(
        event_type="BET_PLACED",
        game=game,
        occurred_at=at,
        bet={"bet_type": bet_type, "stake_minor": stake, "currency": "EUR"},
        **kw,
    )


def settle(outcome, stake=1000, at=T0, **kw):
    return settled(
        outcome,
        occurred_at=at,
        bet={"bet_type": "main", "stake_minor": stake, "currency": "EUR"},
        **kw,
    )


# -- loss-streak-5 -------------------------------------------------------------------------


def test_five_losses_in_a_row_earn_a_cashback_of_ten_percent_of_the_streaks_stakes():
    # stakes that do not rise (rising ones after losses would trip the loss-chasing guard)
    losses = [
        settle("LOSS", stake=s, at=T0 + i) for i, s in enumerate((3000, 2000, 4000, 1000, 5000))
    ]
    _, out = run(default_engine(), losses)
    [offer] = of_rule(out.rewards, "loss-streak-5")
    assert offer["kind"] == "CASHBACK_OFFER"
    assert (offer["amount"], offer["currency"]) == (1500, "EUR")  # 10% of 15,000
    assert offer["trigger_event_ids"] == [e["event_id"] for e in losses]
    assert "last 5 hands" in offer["message"]


def test_a_push_neither_extends_nor_breaks_the_streak_and_a_win_breaks_it():
    engine = default_engine()
    four_and_a_push = [settle("LOSS", at=T0 + i) for i in range(4)] + [settle("PUSH", at=T0 + 5)]
    _, out = run(engine, four_and_a_push)
    assert of_rule(out.rewards, "loss-streak-5") == []
    _, out = run(engine, [*four_and_a_push, settle("LOSS", at=T0 + 6)])
    assert len(of_rule(out.rewards, "loss-streak-5")) == 1
    broken = [settle("LOSS", at=T0 + i) for i in range(4)] + [settle("WIN", at=T0 + 5)]
    _, out = run(engine, [*broken, *[settle("LOSS", at=T0 + 10 + i) for i in range(4)]])
    assert of_rule(out.rewards, "loss-streak-5") == []


def test_the_cashback_fires_once_per_streak_and_again_after_a_win():
    engine = default_engine()
    minutes = 3 * 60_000  # slow enough not to trip the rapid-loss guard
    ten_losses = [settle("LOSS", at=T0 + i * minutes) for i in range(10)]
    state, out = run(engine, ten_losses)
    assert len(of_rule(out.rewards, "loss-streak-5")) == 1
    later = T0 + 11 * minutes
    again = [
        settle("WIN", at=later),
        *[settle("LOSS", at=later + (i + 1) * minutes) for i in range(5)],
    ]
    _, out = run(engine, again, state=state)
    assert len(of_rule(out.rewards, "loss-streak-5")) == 1


def test_side_bet_losses_are_not_main_bets():
    side = [settled("LOSS", event_type="SIDE_BET_SETTLED", occurred_at=T0 + i) for i in range(6)]
    _, out = run(default_engine(), side)
    assert of_rule(out.rewards, "loss-streak-5") == []


# -- baccarat-banker-x3 ------------------------------------------------------------------


def test_three_banker_bets_in_a_day_complete_the_mission_once():
    bets = [bet(bet_type="banker", game="BACCARAT", at=T0 + i) for i in range(4)]
    bets.insert(1, bet(bet_type="player", game="BACCARAT", at=T0))
    bets.insert(2, bet(bet_type="banker", game="BLACKJACK", at=T0))
    _, out = run(default_engine(), bets)
    journal = of_rule(out.journal, "baccarat-banker-x3")
    assert [j["decision"] for j in journal] == [
        "MISSION_PROGRESS",
        "MISSION_PROGRESS",
        "MISSION_PROGRESS",
        "MISSION_COMPLETED",
        "REWARD_ISSUED",
    ]
    assert [j["details"].get("step") for j in journal[:3]] == ["1", "2", "3"]
    [reward] = of_rule(out.rewards, "baccarat-banker-x3")
    assert (reward["kind"], reward["amount"]) == ("POINTS", 50)
    assert len(reward["trigger_event_ids"]) == 3


def test_the_mission_starts_over_the_next_day():
    engine = default_engine()
    day1 = [bet(bet_type="banker", game="BACCARAT", at=T0 + i) for i in range(2)]
    state, out = run(engine, day1)
    assert of_rule(out.rewards, "baccarat-banker-x3") == []
    day2 = [bet(bet_type="banker", game="BACCARAT", at=T0 + 86_400_000 + i) for i in range(3)]
    _, out = run(engine, day2, state=state)
    progress = [
        j for j in of_rule(out.journal, "baccarat-banker-x3") if j["decision"] == "MISSION_PROGRESS"
    ]
    assert [j["details"]["step"] for j in progress] == ["1", "2", "3"]
    assert len(of_rule(out.rewards, "baccarat-banker-x3")) == 1


# -- wager-points --------------------------------------------------------------------------


def test_one_point_per_whole_currency_unit_staked():
    _, out = run(default_engine(), [bet(stake=2599), bet(stake=99)])
    points = of_rule(out.rewards, "wager-points")
    assert [p["amount"] for p in points] == [25]  # 0.99 earns nothing, and no zero reward


def test_lightning_roulette_earns_double_during_the_promo_window_only():
    in_promo = ms("2026-11-21T18:00:00Z")
    events = [
        bet(stake=1000, game="ROULETTE", game_variant="Lightning Roulette", at=in_promo),
        bet(stake=1000, game="ROULETTE", game_variant="European Roulette", at=in_promo),
        bet(stake=1000, game="ROULETTE", game_variant="Lightning Roulette", at=T0),
    ]
    _, out = run(default_engine(), events)
    points = of_rule(out.rewards, "wager-points")
    assert [p["amount"] for p in points] == [20, 10, 10]
    doubled = of_rule(out.journal, "wager-points")[0]
    assert doubled["details"]["multiplier"] == "2"


# -- explorer ------------------------------------------------------------------------------


def test_the_first_bet_ever_in_each_game_earns_its_explorer_badge():
    engine = default_engine()
    events = [bet(game="ROULETTE"), bet(game="ROULETTE"), bet(game="BACCARAT")]
    state, out = run(engine, events)
    badges = of_rule(out.rewards, "explorer")
    assert [(b["kind"], b["attributes"]["badge"]) for b in badges] == [
        ("BADGE", "explorer:roulette"),
        ("BADGE", "explorer:baccarat"),
    ]
    _, out = run(engine, [bet(game="ROULETTE", at=T0 + 30 * 86_400_000)], state=state)
    assert of_rule(out.rewards, "explorer") == []


# -- chat-birthday -------------------------------------------------------------------------


def chat(text: str) -> dict:
    return table_event(
        event_type="CHAT_MESSAGE", bet=None, chat_text=text, table_id="rl-04", dealer_id="Anna"
    )


def test_a_birthday_chat_line_in_any_case_earns_a_shoutout_naming_dealer_and_table():
    _, out = run(
        default_engine(), [chat("it's my BirthDay today!"), chat("nice spin"), chat("birthday")]
    )
    shouts = of_rule(out.rewards, "chat-birthday")
    assert len(shouts) == 2
    assert shouts[0]["kind"] == "CHAT_SHOUTOUT"
    assert "Anna" in shouts[0]["message"] and "rl-04" in shouts[0]["message"]


# -- first-natural-blackjack-of-day with levels -----------------------------------------------


def test_xp_crossing_a_level_threshold_is_journaled_as_level_up():
    days = [natural(occurred_at=T0 + d * 86_400_000) for d in range(6)]
    state, out = run(default_engine(), days)
    level_ups = [j for j in out.journal if j["decision"] == "LEVEL_UP"]
    assert [(j["details"]["from"], j["details"]["to"]) for j in level_ups] == [("1", "2")]
    assert level_ups[0]["event_ids"] == [days[4]["event_id"]]  # 50 XP on the fifth day
    assert (state.xp, state.level) == (60, 2)


def test_every_decision_names_its_rule_and_version():
    events = [bet(game="BACCARAT", bet_type="banker", at=T0 + i) for i in range(3)]
    events.append(natural(occurred_at=T0 + 3))
    _, out = run(default_engine(), events)
    assert out.journal
    for entry in out.journal:
        assert entry["rule_id"] and entry["rule_version"] == 1
