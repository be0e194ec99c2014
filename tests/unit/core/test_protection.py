"""Responsible gaming in the core: caps, cool-downs, flags, consent and jurisdictions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core import Decisions, Engine, PlayerState, protect
from app.core.rounds import Round
from app.core.rules import CountryRules, Jurisdictions, Protection
from tests.support.factories import ms, natural, settled, table_event
from tests.support.rulesets import PLAYER, default_engine, of_rule, ruleset, run

T0 = ms("2026-11-24T12:00:00Z")  # outside the shipped promo window
MIN = 60_000


def bet(stake, at=T0, **kw):
    return table_event(
        occurred_at=at, bet={"bet_type": "main", "stake_minor": stake, "currency": "EUR"}, **kw
    )


def loss(at, stake=1000, game="BLACKJACK"):
    return settled(
        "LOSS",
        game=game,
        occurred_at=at,
        bet={"bet_type": "main", "stake_minor": stake, "currency": "EUR"},
    )


def decisions(out, kind):
    return [j for j in out.journal if j["decision"] == kind]


def burst(count=8, every=MIN):
    """Losses of 93.75 each: the 8th makes 750.00 within 15 minutes (a rapid loss)."""
    return [loss(T0 + i * every, stake=9375) for i in range(count)]


# -- caps ------------------------------------------------------------------------------------


def test_the_daily_points_cap_reached_exactly_holds_nothing_back():
    state, out = run(default_engine(), [bet(50_000, at=T0 + i) for i in range(2)])  # 500 + 500
    assert [r["amount"] for r in of_rule(out.rewards, "wager-points")] == [500, 500]
    assert decisions(out, "REWARD_SUPPRESSED") == []
    _, out = run(default_engine(), [bet(100, at=T0 + 5)], state=state)  # one more point
    assert of_rule(out.rewards, "wager-points") == []
    [held] = decisions(out, "REWARD_SUPPRESSED")
    assert (held["reason"], held["details"]["amount"], held["rule_id"]) == (
        "daily_cap",
        "1",
        "wager-points",
    )


def test_a_reward_crossing_the_daily_cap_is_cut_to_what_is_left():
    _, out = run(default_engine(), [bet(95_000, at=T0), bet(10_000, at=T0 + 1)])  # 950, then 100
    points = of_rule(out.rewards, "wager-points")
    assert [p["amount"] for p in points] == [950, 50]
    [held] = decisions(out, "REWARD_SUPPRESSED")
    assert held["reason"] == "daily_cap"
    assert (held["details"]["amount"], held["details"]["wanted"]) == ("50", "100")
    assert held["reward_id"] == points[1]["reward_id"]  # the audit links the cut to the reward
    issued = [j for j in of_rule(out.journal, "wager-points") if j["decision"] == "REWARD_ISSUED"]
    assert issued[1]["details"]["held_back"] == "50"


def test_the_daily_cap_starts_again_in_the_players_next_local_day():
    state, out = run(default_engine(), [bet(100_000, at=T0)])
    assert of_rule(out.rewards, "wager-points")[0]["amount"] == 1000
    _, out = run(default_engine(), [bet(10_000, at=T0 + 24 * 60 * MIN)], state=state)
    assert of_rule(out.rewards, "wager-points")[0]["amount"] == 100


def test_per_rule_caps_per_day_and_per_week_are_journaled_with_their_own_reasons():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: xp-per-bet
                events: [BET_PLACED]
                caps: {per_day: 25, per_week: 40}
                reward: {kind: XP, amount: 10}
            """
        )
    )
    day1 = [bet(100, at=T0 + i) for i in range(3)]  # 10, 10, 5 (day cap)
    state, out = run(engine, day1)
    assert [r["amount"] for r in out.rewards] == [10, 10, 5]
    assert [h["reason"] for h in decisions(out, "REWARD_SUPPRESSED")] == ["rule_cap_day"]
    day2 = [bet(100, at=T0 + 24 * 60 * MIN + i) for i in range(3)]  # 10, 5 (week cap), 0
    _, out = run(engine, day2, state=state)
    assert [r["amount"] for r in out.rewards] == [10, 5]
    assert [h["reason"] for h in decisions(out, "REWARD_SUPPRESSED")] == [
        "rule_cap_week",
        "rule_cap_week",
    ]


# -- cool-downs ------------------------------------------------------------------------------


def test_a_net_loss_of_750_within_15_minutes_starts_a_30_minute_cooldown():
    losses = [loss(T0 + i * 4 * MIN, stake=18_750) for i in range(4)]  # 750.00 over 12 minutes
    state, out = run(default_engine(), losses)
    [cooldown] = out.cooldowns
    assert cooldown["reason"] == "RAPID_LOSS_AMOUNT"
    assert cooldown["figures"]["net_loss_minor"] == 75_000
    assert (cooldown["starts_at"], cooldown["ends_at"]) == (
        losses[-1]["occurred_at"],
        losses[-1]["occurred_at"] + 30 * MIN,
    )
    assert cooldown["trigger_event_ids"] == [losses[-1]["event_id"]]
    assert "30 minutes" in cooldown["message"]
    [started] = decisions(out, "COOLDOWN_STARTED")
    assert (started["rule_id"], started["reason"]) == ("rapid-loss", "rapid_loss_amount")
    assert started["details"]["cooldown_id"] == cooldown["cooldown_id"]
    assert state.cooldown is not None


def test_losses_spread_over_more_than_15_minutes_do_not_trip():
    losses = [loss(T0 + i * 6 * MIN, stake=18_750) for i in range(4)]  # 750.00 over 18 minutes
    _, out = run(default_engine(), losses)
    assert out.cooldowns == []


def test_twenty_losing_rounds_within_10_minutes_set_medium_not_a_cooldown():
    _, out = run(default_engine(), [loss(T0 + i * 25_000) for i in range(19)])
    assert decisions(out, "RISK_LEVEL_CHANGED") == []
    _, out = run(default_engine(), [loss(T0 + i * 25_000) for i in range(20)])
    assert out.cooldowns == []
    [changed] = decisions(out, "RISK_LEVEL_CHANGED")
    assert (changed["details"]["to"], changed["details"]["markers"]) == (
        "medium",
        "rapid_loss_count",
    )


def test_during_a_cooldown_every_reward_is_suppressed_and_the_cashback_never_fires():
    engine = default_engine()
    state, out = run(engine, burst())  # trips at the 8th loss
    assert out.cooldowns
    # the 5th loss completed the streak before the cool-down began: that offer stands
    [offer] = of_rule(out.rewards, "loss-streak-5")
    assert offer["event_time"] < out.cooldowns[0]["starts_at"]
    during = [bet(2000, at=T0 + 10 * MIN), natural(occurred_at=T0 + 11 * MIN), loss(T0 + 12 * MIN)]
    _, out = run(engine, during, state=state)
    assert out.rewards == []
    held = decisions(out, "REWARD_SUPPRESSED")
    assert {h["rule_id"] for h in held} >= {"wager-points", "first-natural-blackjack-of-day"}
    assert {h["reason"] for h in held} == {"cooldown_active"}


def test_the_loss_streak_cashback_is_held_back_when_the_streak_completes_in_a_cooldown():
    engine = default_engine()
    slow = [loss(T0 + i * 4 * MIN, stake=18_750) for i in range(4)]  # trips RAPID_LOSS_AMOUNT
    _state, out = run(engine, [*slow, loss(T0 + 17 * MIN)])  # 5th loss in a row, cooling down
    assert of_rule(out.rewards, "loss-streak-5") == []
    [held] = [h for h in decisions(out, "REWARD_SUPPRESSED") if h["rule_id"] == "loss-streak-5"]
    assert held["reason"] == "cooldown_active" and held["details"]["kind"] == "CASHBACK_OFFER"


def test_a_cooldown_ends_by_event_time_and_rewards_flow_again():
    engine = default_engine()
    state, out = run(engine, burst())
    ends_at = out.cooldowns[0]["ends_at"]
    _, out = run(engine, [bet(2000, at=ends_at + 1)], state=state)
    [ended] = decisions(out, "COOLDOWN_ENDED")
    assert ended["event_time"] == ends_at and ended["reason"] == "cooldown_over"
    assert [r["amount"] for r in of_rule(out.rewards, "wager-points")] == [20]
    assert out.cooldown_index == {"p-000001": None}


def test_a_quiet_players_cooldown_ends_when_their_partitions_time_passes_it():
    engine = default_engine()
    state, out = run(engine, burst())
    ends_at = out.cooldowns[0]["ends_at"]
    assert out.cooldown_index == {"p-000001": ends_at}
    later = Decisions()
    assert not engine.end_cooldown_if_over("p-000001", state, ends_at - 1, 1, later)
    assert engine.end_cooldown_if_over("p-000001", state, ends_at + 5 * MIN, 1, later)
    [ended] = later.journal
    assert ended["decision"] == "COOLDOWN_ENDED" and ended["event_time"] == ends_at
    assert state.cooldown is None


def test_a_running_cooldown_is_not_restarted_by_more_losses():
    _, out = run(default_engine(), burst(20, every=30_000))
    assert len(out.cooldowns) == 1


def test_stakes_rising_after_consecutive_losses_are_loss_chasing():
    stakes = [1000, 1200, 1500, 2000, 2500, 3000]  # rising; the 6th is 3x the first
    _, out = run(default_engine(), [loss(T0 + i * 3 * MIN, stake=s) for i, s in enumerate(stakes)])
    [cooldown] = out.cooldowns
    assert cooldown["reason"] == "LOSS_CHASING"
    assert cooldown["figures"] == {
        "losses_before": 5,
        "first_stake_minor": 1000,
        "stake_minor": 3000,
    }
    assert decisions(out, "COOLDOWN_STARTED")[0]["rule_id"] == "loss-chasing"
    # A win in between ends the run, and a stake no higher than the last starts a new one.
    for stop in (settled("WIN", occurred_at=T0 + 7 * MIN), loss(T0 + 7 * MIN, 1000)):
        chased = [loss(T0 + i * 3 * MIN, stake=s) for i, s in enumerate(stakes)]
        _, out = run(default_engine(), [*chased[:3], stop, *chased[3:]])
        assert out.cooldowns == []


def test_thresholds_come_from_the_ruleset():
    engine = Engine(
        ruleset(
            """
            protection:
              rapid_loss: {losses: 3, losses_within: 5m}
              risk: {levels: {rapid_loss_count: high}}
              cooldown: {duration: 10m, message: "Pause for {minutes} min"}
            rules: []
            """
        )
    )
    _, out = run(engine, [loss(T0 + i * MIN) for i in range(3)])
    [cooldown] = out.cooldowns
    assert cooldown["ends_at"] - cooldown["starts_at"] == 10 * MIN
    assert cooldown["message"] == "Pause for 10 min"


# -- self-exclusion, harm flags, consent, jurisdictions ----------------------------------------


def test_self_exclusion_stops_every_reward_and_lifting_it_restores_them():
    engine = default_engine()
    excluded = {**PLAYER, "self_excluded": True}
    state, out = run(engine, [bet(2000), natural(occurred_at=T0 + 1)], excluded)
    assert out.rewards == []
    assert {h["reason"] for h in decisions(out, "REWARD_SUPPRESSED")} == {"self_excluded"}
    _, out = run(engine, [bet(2000, at=T0 + 2)], PLAYER, state=state)
    assert [r["rule_id"] for r in out.rewards] == ["wager-points"]


def test_a_harm_flag_stops_every_reward_with_the_flag_in_the_journal():
    _, out = run(default_engine(), [bet(2000)], {**PLAYER, "harm_flags": ["affordability_check"]})
    assert out.rewards == []
    [held, *_] = decisions(out, "REWARD_SUPPRESSED")
    assert held["reason"] == "harm_flag" and "affordability_check" in held["details"]["explain"]


def test_marketing_needs_consent_for_its_product_and_channel():
    chat = table_event(
        event_type="CHAT_MESSAGE", bet=None, chat_text="my birthday!", occurred_at=T0
    )
    widget_only = {
        **PLAYER,
        "consents": [{"product": "casino", "channel": "widget", "granted": True}],
    }
    _, out = run(default_engine(), [chat, bet(2000, at=T0 + 1)], widget_only)
    assert [r["rule_id"] for r in out.rewards] == ["wager-points", "explorer"]  # not marketing
    [held] = decisions(out, "REWARD_SUPPRESSED")
    assert (held["rule_id"], held["reason"]) == ("chat-birthday", "no_consent")
    withdrawn = {**PLAYER, "consents": [{"product": "casino", "channel": "chat", "granted": False}]}
    _, out = run(default_engine(), [chat], withdrawn)
    assert decisions(out, "REWARD_SUPPRESSED")[0]["reason"] == "no_consent"
    _, out = run(default_engine(), [chat], None)  # no profile, no consent on record
    assert out.rewards == []


def test_a_kind_the_players_country_does_not_allow_is_suppressed():
    everything = frozenset({"POINTS", "XP", "BADGE", "CHAT_SHOUTOUT", "CASHBACK_OFFER"})
    policies = Jurisdictions(
        default=CountryRules(everything, cross_product=True),
        countries={"SE": CountryRules(frozenset({"POINTS", "XP", "BADGE"}), cross_product=True)},
    )
    engine = Engine(default_engine().ruleset, "UTC", policies)
    slow_losses = [
        loss(T0 + i * 3 * MIN, stake=s) for i, s in enumerate((3000, 2000, 3000, 2000, 3000))
    ]
    _, out = run(engine, slow_losses, {**PLAYER, "country": "SE"})
    assert of_rule(out.rewards, "loss-streak-5") == []
    [held] = decisions(out, "REWARD_SUPPRESSED")
    assert held["reason"] == "jurisdiction" and "SE" in held["details"]["explain"]
    _, out = run(engine, slow_losses, {**PLAYER, "country": "GB"})  # the default policy allows it
    assert len(of_rule(out.rewards, "loss-streak-5")) == 1


def test_without_cross_product_incentives_only_play_of_the_rewards_product_earns_it():
    policies = Jurisdictions(
        default=CountryRules(frozenset({"CASHBACK_OFFER", "POINTS", "XP", "BADGE"}), True),
        countries={
            "GB": CountryRules(frozenset({"CASHBACK_OFFER", "POINTS", "XP", "BADGE"}), False)
        },
        products_by_game={"BLACKJACK": "casino", "POKER": "poker"},
    )
    engine = Engine(default_engine().ruleset, "UTC", policies)
    # a casino cashback completed by a poker hand
    streak = [
        loss(T0 + i * 3 * MIN, stake=s, game=g)
        for i, (s, g) in enumerate(
            [
                (3000, "BLACKJACK"),
                (2000, "BLACKJACK"),
                (3000, "BLACKJACK"),
                (2000, "BLACKJACK"),
                (3000, "POKER"),
            ]
        )
    ]
    _, out = run(engine, streak, {**PLAYER, "country": "GB"})
    [held] = [h for h in decisions(out, "REWARD_SUPPRESSED") if h["rule_id"] == "loss-streak-5"]
    assert (
        held["reason"] == "jurisdiction"
        and "casino incentive for poker play" in held["details"]["explain"]
    )
    _, out = run(engine, streak, {**PLAYER, "country": "MT"})  # cross-product allowed there
    assert len(of_rule(out.rewards, "loss-streak-5")) == 1


def test_guards_apply_in_order_and_journal_one_reason():
    both = {**PLAYER, "self_excluded": True, "consents": []}
    _, out = run(
        default_engine(),
        [table_event(event_type="CHAT_MESSAGE", bet=None, chat_text="birthday", occurred_at=T0)],
        both,
    )
    assert [h["reason"] for h in decisions(out, "REWARD_SUPPRESSED")] == ["self_excluded"]


def test_state_with_a_cooldown_round_trips():
    state, _ = run(default_engine(), burst())
    assert state.cooldown is not None
    assert PlayerState.from_bytes(state.to_bytes()) == state


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(-500, 500)), max_size=60))
def test_loss_minutes_stay_one_bucket_a_minute_in_order_within_the_window(rounds):
    """Rounds in any order (late ones included): the buckets are the window's minutes,
    oldest first, each summing its rounds, exactly as summing them afresh gives."""
    protection = Protection()
    keep = (max(protection.net_loss_within_ms, protection.losses_within_ms) + MIN) // MIN
    state, seen = PlayerState(), []
    for minute, net in rounds:
        played = Round(stake=1000, net=net, at=minute * MIN + 7)
        protect._add_to_minute(state, played, int(net > 0), protection)
        seen.append((minute, net))
        newest = max(m for m, _ in seen)
        expected = [
            [m, sum(n for mm, n in seen if mm == m), sum(n > 0 for mm, n in seen if mm == m)]
            for m in sorted({m for m, _ in seen})
            if m > newest - keep
        ]
        assert state.loss_minutes == expected
