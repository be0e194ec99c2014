"""The pure decision core: days, re-deliveries, determinism, state, the rule index."""

from __future__ import annotations

from app.core import Engine, PlayerState
from app.core.compile import compile_ruleset
from app.core.ids import stable_id
from app.core.rules import MARKER_LEVELS
from app.core.state import CooldownState
from app.rules import default_document
from tests.support.factories import ms, natural, profile, settled, table_event
from tests.support.rulesets import default_engine, of_rule, ruleset, run

RULE = "first-natural-blackjack-of-day"


def naturals(out):
    return of_rule(out.rewards, RULE)


def test_first_natural_of_the_day_earns_10_xp_and_a_journal_entry():
    event = natural()
    state, out = run(default_engine(), [event])
    [reward] = naturals(out)
    assert (reward["kind"], reward["amount"], reward["rule_version"]) == ("XP", 10, 1)
    assert reward["trigger_event_ids"] == [event["event_id"]]
    assert reward["event_time"] == event["occurred_at"]
    assert (reward["table_id"], reward["dealer_id"], reward["game"]) == (
        "bj-01",
        "dealer-7",
        "BLACKJACK",
    )
    [entry] = of_rule(out.journal, RULE)
    assert entry["decision"] == "REWARD_ISSUED"
    assert (entry["rule_version"], entry["reward_id"]) == (1, reward["reward_id"])
    assert entry["event_ids"] == [event["event_id"]]
    assert entry["details"]["period"] == "2026-11-22"
    assert state.xp == 10


def test_second_natural_the_same_day_earns_nothing_but_the_next_day_does():
    engine = default_engine()
    day1 = [
        natural(occurred_at=ms("2026-11-22T10:00:00Z")),
        natural(occurred_at=ms("2026-11-22T22:00:00Z")),
    ]
    state, out = run(engine, day1)
    assert len(naturals(out)) == 1
    state, out = run(engine, [natural(occurred_at=ms("2026-11-23T00:01:00Z"))], state=state)
    assert len(naturals(out)) == 1
    assert state.xp == 20


def test_only_a_winning_natural_in_blackjack_counts():
    events = [
        settled("WIN", None),
        settled("LOSS", None),
        settled("PUSH", "natural_blackjack"),  # the dealer had one too
        natural(game="BACCARAT"),
        natural(event_type="SIDE_BET_SETTLED"),
    ]
    _, out = run(default_engine(), events)
    assert naturals(out) == [] and of_rule(out.journal, RULE) == []
    assert out.events == len(events)


def test_day_is_the_players_local_day_from_the_profile_time_zone():
    earlier = natural(occurred_at=ms("2026-11-22T20:00:00Z"))  # 15:00 on the 22nd in New York
    late_evening = natural(occurred_at=ms("2026-11-23T02:30:00Z"))  # 21:30 on the 22nd
    next_morning = natural(occurred_at=ms("2026-11-23T14:00:00Z"))  # 09:00 on the 23rd
    events = [earlier, late_evening, next_morning]
    _, out = run(default_engine(), events, profile(time_zone="America/New_York"))
    assert [r["trigger_event_ids"][0] for r in naturals(out)] == [
        earlier["event_id"],
        next_morning["event_id"],
    ]
    _, out = run(default_engine(), events, profile(time_zone=None))  # operator zone: UTC
    assert [r["trigger_event_ids"][0] for r in naturals(out)] == [
        earlier["event_id"],
        late_evening["event_id"],
    ]


def test_operator_zone_applies_without_a_profile_and_a_bad_profile_zone_falls_back():
    engine = default_engine("Asia/Tokyo")  # UTC+9
    a = natural(occurred_at=ms("2026-11-22T14:00:00Z"))  # 23:00 in Tokyo
    b = natural(occurred_at=ms("2026-11-22T16:00:00Z"))  # 01:00 on the 23rd in Tokyo
    _, out = run(engine, [a, b])
    assert len(naturals(out)) == 2
    _, out = run(engine, [a, b], profile(time_zone="Mars/Olympus"))
    assert [e["details"]["period"] for e in of_rule(out.journal, RULE)] == [
        "2026-11-22",
        "2026-11-23",
    ]


def test_a_redelivered_event_mints_no_second_reward():
    event = natural()
    state, out = run(default_engine(), [event, event])
    assert len(naturals(out)) == 1 and out.duplicates == 1
    state = PlayerState.from_bytes(state.to_bytes())  # ...also in a later batch, after a reload
    _, out = run(default_engine(), [event], state=state)
    assert out.rewards == [] and out.journal == [] and out.duplicates == 1


def test_reward_ids_follow_the_rule_version():
    doc = """
    rules:
      - id: nat
        version: {v}
        events: [BET_SETTLED]
        when: event.settlement.hand == "natural_blackjack"
        reward: {{kind: XP, amount: 10}}
    """
    event = natural()
    _, v1 = run(Engine(ruleset(doc.format(v=1))), [event])
    _, again = run(Engine(ruleset(doc.format(v=1))), [event], now_ms=999)
    _, v2 = run(Engine(ruleset(doc.format(v=2))), [event])
    assert v1.rewards[0]["reward_id"] == again.rewards[0]["reward_id"]
    assert v2.rewards[0]["rule_version"] == 2 and v2.journal[0]["rule_version"] == 2
    assert v1.rewards[0]["reward_id"] != v2.rewards[0]["reward_id"]


def test_a_late_event_within_the_lateness_fires_once_for_its_own_day():
    doc = default_document()
    doc["lateness"] = "2d"
    engine = Engine(compile_ruleset(doc))
    today = natural(occurred_at=ms("2026-11-23T10:00:00Z"))
    yesterday = natural(occurred_at=ms("2026-11-22T10:00:00Z"))
    yesterday_again = natural(occurred_at=ms("2026-11-22T11:00:00Z"))
    state, out = run(engine, [today])
    _, out = run(engine, [yesterday, yesterday_again], state=state)  # a later batch
    assert [r["trigger_event_ids"][0] for r in naturals(out)] == [yesterday["event_id"]]


def test_an_event_later_than_the_lateness_is_journaled_not_decided():
    engine = default_engine()  # lateness 1h
    newest = natural(occurred_at=ms("2026-11-23T10:00:00Z"))
    late = natural(occurred_at=ms("2026-11-23T08:30:00Z"))
    in_time = natural(occurred_at=ms("2026-11-23T09:30:00Z"), event_type="BET_SETTLED")
    state, _ = run(engine, [newest])
    _, out = run(engine, [late, in_time], state=state)
    [rejected] = [j for j in out.journal if j["decision"] == "EVENT_REJECTED"]
    assert rejected["reason"] == "late" and rejected["event_ids"] == [late["event_id"]]
    assert rejected["details"]["late_by_ms"] == str(90 * 60_000)
    assert out.late == 1 and out.events == 2


def test_a_players_events_are_decided_in_record_order_whatever_the_batches():
    streak = ruleset(
        """
        rules:
          - id: three-losses
            events: [BET_SETTLED]
            trigger: {type: streak, counts: event.settlement.outcome == "LOSS",
                      breaks: event.settlement.outcome == "WIN", length: 3}
            once_per: streak
            reward: {kind: XP, amount: 5}
        """
    )
    t = ms("2026-11-23T10:00:00Z")
    arrived = [
        settled("LOSS", occurred_at=t + 3000),
        settled("WIN", occurred_at=t),
        settled("LOSS", occurred_at=t + 1000),
        settled("LOSS", occurred_at=t + 2000),
    ]
    _, together = run(Engine(streak), arrived)
    engine, state, apart = Engine(streak), PlayerState(), []
    for event in arrived:  # one batch per event
        state, out = run(engine, [event], state=state)
        apart += out.rewards
    # as they arrived: LOSS, then the WIN resets the streak, LOSS, LOSS: two, not three
    assert together.rewards == apart == []
    # the same events in event-time order make the streak
    _, ordered = run(Engine(streak), sorted(arrived, key=lambda e: e["occurred_at"]))
    assert len(ordered.rewards) == 1


def four_weeks_of_play(games: tuple[str, ...]) -> list[dict]:
    """40 hands a day for four weeks: a bet and its settlement every 30 s, 3 losses in 4."""
    events = []
    for day in range(1, 29):
        for hand in range(40):
            at = ms(f"2026-11-{day:02d}T10:00:00Z") + hand * 30_000
            game = games[hand % len(games)]
            stake = {"bet_type": "banker", "stake_minor": 500, "currency": "EUR"}
            events.append(table_event(game=game, occurred_at=at, bet=stake))
            events.append(settled("LOSS" if hand % 4 else "WIN", game=game, occurred_at=at + 1))
    return events


def test_state_round_trips_and_stays_small_for_an_active_player():
    state, _ = run(default_engine(), four_weeks_of_play(("BLACKJACK",)))
    data = state.to_bytes()
    assert PlayerState.from_bytes(data) == state
    assert len(state.seen) == 32
    assert len(data) < 1024, len(data)
    # Three games (three badges, boards and streak scopes), a session, risk markers and a
    # cool-down running:
    state, _ = run(default_engine(), four_weeks_of_play(("BLACKJACK", "ROULETTE", "BACCARAT")))
    t = state.last_event_at
    state.cooldown = CooldownState(stable_id("cd", "p-000001", "LOSS_CHASING"), t, t, "OTHER")
    state.markers.update(dict.fromkeys(MARKER_LEVELS, t))
    state.round = [2**48 - 1, 3, 1, 5000, 2500, t]
    state.risk = 3
    assert state.session
    # (every marker at once, the deposit markers too, is the worst case: 1,536 bytes with
    # the points balance and three badges; a player has one or two markers)
    assert len(state.to_bytes()) < 1600, len(state.to_bytes())
    assert PlayerState.from_bytes(None) == PlayerState()


def test_seen_set_is_bounded():
    state = PlayerState()
    for i in range(500):
        assert state.remember(i)
    assert len(state.seen) == 32
    assert not state.remember(499) and state.remember(0)
    assert PlayerState.from_bytes(state.to_bytes()).seen == state.seen


def test_the_index_only_offers_rules_that_could_match():
    rules = ruleset(
        """
        rules:
          - {id: bj, events: [BET_SETTLED], games: [BLACKJACK], reward: {kind: XP}}
          - {id: chat, events: [CHAT_MESSAGE], reward: {kind: POINTS}}
          - {id: any-settle, events: [BET_SETTLED], reward: {kind: POINTS}}
        """
    )
    ids = lambda rs: [r.rule_id for r in rs]  # noqa: E731
    assert ids(rules.candidates("BET_SETTLED", "BLACKJACK")) == ["bj", "any-settle"]
    assert ids(rules.candidates("BET_SETTLED", "ROULETTE")) == ["any-settle"]
    assert ids(rules.candidates("CHAT_MESSAGE", "BACCARAT")) == ["chat"]
    assert rules.candidates("BET_PLACED", "BLACKJACK") == ()


def test_a_version_1_state_record_still_loads():
    v1 = (
        b'{"v":1,"o":{"first-natural-blackjack-of-day":["2026-11-22"]},'
        b'"xp":10,"s":[146270207926546061]}'
    )
    state = PlayerState.from_bytes(v1)
    assert state.xp == 10 and state.has_fired(RULE, "2026-11-22")
    assert state.seen == []  # old fingerprints cannot match the new ones
    _, out = run(default_engine(), [natural(occurred_at=ms("2026-11-22T18:00:00Z"))], state=state)
    assert naturals(out) == []
