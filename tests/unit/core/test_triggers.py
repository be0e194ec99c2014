"""Triggers and reward mechanics the rule language offers beyond the shipped ruleset."""

from __future__ import annotations

from collections import Counter

from app.core import Engine
from app.core.compile import RulesetError
from tests.support.factories import ms, profile, settled, table_event
from tests.support.rulesets import ruleset, run

T0 = ms("2026-11-24T12:00:00Z")
MIN = 60_000


def loss(at, game="BLACKJACK", stake=1000, **kw):
    return settled(
        "LOSS",
        game=game,
        occurred_at=at,
        bet={"bet_type": "main", "stake_minor": stake, "currency": "EUR"},
        **kw,
    )


def win(at, game="BLACKJACK"):
    return settled("WIN", game=game, occurred_at=at)


WINDOW = """
rules:
  - id: three-losses-in-10-min
    events: [BET_SETTLED]
    when: event.settlement.outcome == "LOSS"
    trigger: {type: window, within: 10m, count_at_least: 3}
    reward: {kind: WHEEL_SPIN, amount: 1, message: "Spin the wheel on us"}
"""


def test_a_window_fires_when_enough_events_fall_within_it():
    engine = Engine(ruleset(WINDOW))
    _, out = run(engine, [loss(T0), loss(T0 + 4 * MIN), loss(T0 + 11 * MIN)])
    assert out.rewards == []  # never three within ten minutes
    _, out = run(engine, [loss(T0), loss(T0 + 4 * MIN), loss(T0 + 9 * MIN)])
    [spin] = out.rewards
    assert spin["kind"] == "WHEEL_SPIN" and len(spin["trigger_event_ids"]) == 3


def test_a_window_counts_out_of_order_events_by_event_time():
    engine = Engine(ruleset(WINDOW))
    a, b, c = loss(T0 + 8 * MIN), loss(T0), loss(T0 + 5 * MIN)  # arrive 8, 0, 5 minutes
    _, out = run(engine, [a, b, c])
    [spin] = out.rewards
    assert sorted(spin["trigger_event_ids"]) == sorted(e["event_id"] for e in (a, b, c))
    late = loss(T0 - 20 * MIN)  # too early to share a window with the others
    _, out = run(engine, [a, late, c])
    assert out.rewards == []


def test_a_window_rearms_on_fresh_events_after_it_fires():
    engine = Engine(ruleset(WINDOW))
    _, out = run(engine, [loss(T0 + i * MIN) for i in range(7)])
    assert len(out.rewards) == 2  # events 1-3 and 4-6; the 7th waits for two more


def test_a_window_can_sum_an_expression():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: high-wagering-hour
                events: [BET_PLACED]
                trigger:
                  {type: window, within: 1h, sum: event.bet.stake_minor, sum_at_least: 100000}
                reward: {kind: FREE_SIDE_BET, amount: 2}
            """
        )
    )
    bets = [
        table_event(
            occurred_at=T0 + i * 10 * MIN,
            bet={"bet_type": "main", "stake_minor": 40_000, "currency": "EUR"},
        )
        for i in range(3)
    ]
    _, out = run(engine, bets)
    [token] = out.rewards
    assert (token["kind"], token["amount"]) == ("FREE_SIDE_BET", 2)


def test_a_streak_per_game_keeps_games_apart():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: win-streak-3
                events: [BET_SETTLED]
                per: game
                trigger:
                  type: streak
                  counts: event.settlement.outcome == "WIN"
                  breaks: event.settlement.outcome == "LOSS"
                  length: 3
                once_per: streak
                reward: {kind: XP, amount: 30}
            """
        )
    )
    mixed = [
        win(T0),
        win(T0 + 1, "BACCARAT"),
        win(T0 + 2),
        win(T0 + 3, "BACCARAT"),
        loss(T0 + 4, "BACCARAT"),
        win(T0 + 5),
    ]
    _, out = run(engine, mixed)
    [reward] = out.rewards
    assert reward["game"] == "BLACKJACK"


def test_segments_select_players_by_profile_and_event():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: vip-mobile-welcome
                events: [PLAYER_JOINED]
                when: >-
                  profile.vip_tier in ["GOLD", "PLATINUM"]
                  && "high-roller" in profile.segments && event.device == "mobile"
                once_per: day
                reward: {kind: WHEEL_SPIN}
            """
        )
    )
    joined = lambda **kw: table_event(event_type="PLAYER_JOINED", bet=None, occurred_at=T0, **kw)  # noqa: E731
    _, out = run(engine, [joined()], profile(vip_tier="GOLD"))
    assert len(out.rewards) == 1
    _, out = run(engine, [joined()], profile(vip_tier="BRONZE"))
    assert out.rewards == []
    _, out = run(engine, [joined(device="desktop")], profile(vip_tier="GOLD"))
    assert out.rewards == []
    _, out = run(engine, [joined()], None)  # no profile: defaults (tier NONE)
    assert out.rewards == []


def test_ab_variants_split_players_deterministically_and_are_journaled():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: welcome-ab
                events: [PLAYER_JOINED]
                once_per: ever
                reward: {kind: POINTS, amount: 10}
                variants:
                  - {name: control, weight: 1}
                  - {name: double, weight: 1, reward: {amount: 20}}
            """
        )
    )
    seen = Counter()
    for i in range(400):
        player = f"p-{i:06d}"
        event = table_event(event_type="PLAYER_JOINED", bet=None, player_id=player, occurred_at=T0)
        _, out = run(engine, [event])
        _, again = run(engine, [dict(event, event_id=event["event_id"] + "-again")])
        [reward], [exposed, entry] = out.rewards, out.journal
        assert exposed["details"]["arm"] == reward["attributes"]["variant"]
        assert reward["attributes"]["variant"] == again.rewards[0]["attributes"]["variant"]
        assert entry["details"]["variant"] == reward["attributes"]["variant"]
        assert reward["amount"] == {"control": 10, "double": 20}[reward["attributes"]["variant"]]
        seen[reward["attributes"]["variant"]] += 1
    assert 150 < seen["control"] < 250  # an even split, within ~5 standard deviations


def test_once_per_week_uses_the_players_iso_week():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: weekly-spin
                events: [PLAYER_JOINED]
                once_per: week
                reward: {kind: WHEEL_SPIN}
            """
        )
    )
    monday = ms("2026-11-23T09:00:00Z")
    joins = [
        table_event(event_type="PLAYER_JOINED", bet=None, occurred_at=monday + d * 86_400_000)
        for d in range(8)
    ]
    _, out = run(engine, joins)
    assert [r["trigger_event_ids"][0] for r in out.rewards] == [
        joins[0]["event_id"],
        joins[7]["event_id"],
    ]


def test_a_rule_is_active_only_within_its_schedule():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: happy-hour
                events: [BET_PLACED]
                active: {from: "2026-11-24T18:00:00Z", until: "2026-11-24T19:00:00Z"}
                reward:
                  {kind: MULTIPLIER, amount: 2, message: "2x points for the next hour at {table}"}
            """
        )
    )
    at = lambda iso: table_event(occurred_at=ms(iso))  # noqa: E731
    _, out = run(
        engine, [at("2026-11-24T17:59:59Z"), at("2026-11-24T18:30:00Z"), at("2026-11-24T19:00:00Z")]
    )
    [reward] = out.rewards
    assert reward["kind"] == "MULTIPLIER" and reward["message"].endswith("at bj-01")


def test_an_expression_that_fails_on_an_event_is_no_match_not_a_crash():
    engine = Engine(
        ruleset(
            """
            rules:
              - id: big-payout
                events: [BET_PLACED, BET_SETTLED]
                when: event.settlement.payout_minor > 1000
                reward: {kind: XP, amount: 5}
            """
        )
    )
    _, out = run(engine, [table_event(), settled("WIN")])  # BET_PLACED has no settlement
    assert [r["trigger_event_ids"] for r in out.rewards] == [
        [out.rewards[0]["trigger_event_ids"][0]]
    ]
    assert len(out.rewards) == 1


def test_compile_errors_name_the_rule_and_the_field():
    bad = """
    rules:
      - id: ok
        events: [BET_PLACED]
        reward: {kind: XP}
      - id: broken
        events: [BET_PLACED]
        when: event.bet.stake_minor
        reward: {kind: XP}
    """
    try:
        ruleset(bad)
    except RulesetError as exc:
        assert exc.rule_id == "broken" and exc.path == "rules[1].when"
        assert "true or false" in exc.message
    else:
        raise AssertionError("a non-boolean condition compiled")


def test_a_misspelled_field_is_refused_when_the_rule_compiles():
    try:
        ruleset(
            """
            rules:
              - id: typo
                events: [BET_PLACED]
                when: event.bet.stake_minr > 100
                reward: {kind: XP}
            """
        )
    except RulesetError as exc:
        assert exc.rule_id == "typo" and "BET_PLACED" in exc.message
    else:
        raise AssertionError("a condition on a field that does not exist compiled")


def test_the_dry_run_samples_carry_every_field_of_the_schemas():
    from app.contract.codec import AvroCodec
    from app.contract.schemas import get_schema
    from app.core.samples import SAMPLE_PROFILE, sample_event

    for name, record in (
        ("TableEvent", sample_event("BET_SETTLED")),
        ("PlayerProfile", SAMPLE_PROFILE),
    ):
        fields = {f["name"] for f in get_schema(name).source["fields"]}
        assert set(record) == fields
        assert AvroCodec(name).decode(AvroCodec(name).encode(record)) == record
