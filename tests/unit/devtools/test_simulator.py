"""The studio simulator: deterministic, schema-valid and statistically real (that it reaches
Kafka: tests/e2e/test_simulator_e2e.py).

Statistical tolerances are about four standard errors of the sample at hand (stated next to
each), so a correct model passes for any seed while a wrong rule (1/36 for a straight-up,
banker paying 1:1, naturals at 6%) fails. Seeds are fixed, so the tests are repeatable.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import random
import time
import zoneinfo
from collections import Counter, defaultdict

import pytest
from fastavro import parse_schema
from fastavro.validation import validate

from app.core.compile import TABLE_EVENT_TYPES
from app.devtools.simulator import (
    StudioConfig,
    StudioSimulator,
    event_rate,
    games,
    generate_events,
    make_players,
    make_tables,
    player_profiles,
)
from app.devtools.simulator.studio import BIRTHDAY_LINES, REGIONS, seat_targets
from app.settings import PROJECT_ROOT as ROOT
from tests.support.hypothesis_profiles import examples

START = 1_795_327_200_000  # 2026-11-22T06:00:00Z
TABLE_LEVEL = {"ROUND_STARTED", "ROUND_ENDED"}
SEATED_ONLY = {"PLAYER_JOINED", "PLAYER_LEFT"}


def _schema(name: str) -> dict:
    return parse_schema(json.loads((ROOT / "schemas" / f"{name}.avsc").read_text()))


def _se(p: float, n: int) -> float:
    """Standard error of a proportion ``p`` estimated from ``n`` trials."""
    return math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def events() -> list[dict]:
    """A large sample: ~3.5 hours of a 12-table studio."""
    return generate_events(300_000, seed=7, start_ms=START)


@pytest.fixture(scope="module")
def complete_rounds(events: list[dict]) -> dict[str, list[dict]]:
    """Events by round_id, only for rounds whose start and end are both in the sample."""
    rounds: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        if e["round_id"] is not None:
            rounds[e["round_id"]].append(e)
    return {
        rid: evs
        for rid, evs in rounds.items()
        if evs[0]["event_type"] == "ROUND_STARTED" and evs[-1]["event_type"] == "ROUND_ENDED"
    }


# --- determinism --------------------------------------------------------------------------


def test_same_seed_and_start_give_identical_events():
    a = generate_events(20_000, seed=3, start_ms=START)
    b = generate_events(20_000, seed=3, start_ms=START)
    assert a == b


def test_iterating_in_pieces_gives_the_same_stream():
    whole = generate_events(5_000, seed=3, start_ms=START)
    sim = StudioSimulator(StudioConfig(), 3, START)
    assert sim.take(1_234) + sim.take(5_000 - 1_234) == whole


def test_different_seed_gives_different_events():
    a = generate_events(2_000, seed=3, start_ms=START)
    b = generate_events(2_000, seed=4, start_ms=START)
    assert [e["player_id"] for e in a] != [e["player_id"] for e in b]
    assert [e["occurred_at"] for e in a] != [e["occurred_at"] for e in b]


def test_runs_started_at_different_times_never_share_an_event_id():
    """A worker de-duplicates on event_id, so a second `make run` must not look like a replay."""
    a = generate_events(5_000, seed=3, start_ms=START)
    b = generate_events(5_000, seed=3, start_ms=START + 60_000)
    assert not {e["event_id"] for e in a} & {e["event_id"] for e in b}


def test_generator_uses_no_global_random_and_no_wall_clock(monkeypatch):
    random.seed(1)
    before = random.random()
    random.seed(1)
    monkeypatch.setattr(time, "time", lambda: pytest.fail("the generator read the wall clock"))
    events = generate_events(3_000, seed=3, start_ms=START)
    assert random.random() == before, "the generator drew from the global random state"
    assert events[0]["occurred_at"] >= START


# --- schema -------------------------------------------------------------------------------


def test_every_event_matches_the_table_event_schema(events):
    schema = _schema("TableEvent")
    names = {f["name"] for f in schema["fields"]}
    for e in events[: examples(50_000)]:  # a tenth under the fast profile
        assert set(e) == names, e
        assert validate(e, schema, raise_errors=True)
        assert isinstance(e["occurred_at"], int)
        assert all(isinstance(v, str) for v in e["attributes"].values())


def test_every_event_type_and_game_appears(events):
    types = Counter(e["event_type"] for e in events)
    assert set(types) == set(TABLE_EVENT_TYPES)
    assert {e["game"] for e in events} == {"BLACKJACK", "ROULETTE", "BACCARAT"}
    variants = {e["game_variant"] for e in events}
    assert {"Lightning Roulette", "Speed Baccarat", None} <= variants
    # side bets are modest next to main bets
    assert 0.01 < types["SIDE_BET_PLACED"] / types["BET_PLACED"] < 0.10


def test_profiles_match_the_schema_and_the_players():
    players = make_players(2_000, seed=5)
    profiles = player_profiles(players, seed=5, updated_at_ms=START)
    schema = _schema("PlayerProfile")
    names = {f["name"] for f in schema["fields"]}
    zones_of = {country: set(zones) for _, country, zones, _ in REGIONS}
    for p, profile in zip(players, profiles, strict=True):
        assert set(profile) == names
        assert validate(profile, schema, raise_errors=True)
        assert profile["player_id"] == p.player_id
        if profile["time_zone"] is not None:
            zoneinfo.ZoneInfo(profile["time_zone"])  # a real IANA zone
            assert profile["time_zone"] in zones_of[profile["country"]]
        if profile["last_deposit"] is not None:
            assert profile["last_deposit"]["currency"] == p.currency
            assert profile["last_deposit"]["at"] <= START
        assert profile["updated_at"] == START
    assert [p["player_id"] for p in profiles[:2]] == ["p-000001", "p-000002"]
    tiers = Counter(p["vip_tier"] for p in profiles)
    assert tiers["DIAMOND"] == 20 and tiers["NONE"] > 900  # 1% by stake rank; most none
    assert sum(p["self_excluded"] for p in profiles) < 60  # ~1%
    assert sum(bool(p["harm_flags"]) for p in profiles) < 160  # ~4%
    assert any(p["time_zone"] is None for p in profiles)  # the operator's zone then applies
    # VIP tier follows stakes: every diamond stakes at least what any untiered player does
    base = {p.player_id: p.base_stake for p in players}
    assert min(base[p["player_id"]] for p in profiles if p["vip_tier"] == "DIAMOND") >= max(
        base[p["player_id"]] for p in profiles if p["vip_tier"] == "NONE"
    )


def test_player_pool_does_not_depend_on_the_table_count():
    assert make_players(50, seed=9) == make_players(50, seed=9)
    a = StudioSimulator(StudioConfig(tables=3, players=50), 9, START).players
    b = StudioSimulator(StudioConfig(tables=30, players=50), 9, START).players
    assert a == b


# --- structure ----------------------------------------------------------------------------


def test_occurred_at_never_goes_back_and_ids_are_unique(events):
    times = [e["occurred_at"] for e in events]
    assert all(a <= b for a, b in itertools.pairwise(times))
    assert len({e["event_id"] for e in events}) == len(events)
    assert events[0]["occurred_at"] >= START


def test_table_level_events_have_no_player(events):
    for e in events:
        if e["event_type"] in TABLE_LEVEL:
            assert e["player_id"] is None and e["device"] is None and e["bet"] is None
        else:
            assert e["player_id"] and e["device"] in ("mobile", "desktop", "tablet")
        assert (e["round_id"] is None) == (e["event_type"] in SEATED_ONLY)
        assert (e["bet"] is not None) == ("BET" in e["event_type"])
        assert (e["settlement"] is not None) == e["event_type"].endswith("_SETTLED")
        assert (e["chat_text"] is not None) == (e["event_type"] == "CHAT_MESSAGE")


def test_each_round_starts_before_bets_and_every_settlement_matches_a_bet(complete_rounds):
    assert len(complete_rounds) > 3_000
    for rid, evs in complete_rounds.items():
        assert [e["event_type"] for e in evs].count("ROUND_STARTED") == 1
        assert len({(e["table_id"], e["dealer_id"]) for e in evs}) == 1
        open_bets: Counter = Counter()
        for e in evs:
            kind = e["event_type"]
            bet = (
                (e["player_id"], tuple(e["bet"].values()), e["attributes"].get("pick"))
                if (e["bet"])
                else None
            )
            if kind in ("BET_PLACED", "SIDE_BET_PLACED"):
                open_bets[(kind.split("_")[0], bet)] += 1
            elif kind in ("BET_SETTLED", "SIDE_BET_SETTLED"):
                key = (kind.split("_")[0], bet)
                assert open_bets[key] > 0, f"{rid}: settled a bet never placed: {e}"
                open_bets[key] -= 1
        assert not +open_bets, f"{rid}: bets never settled: {+open_bets}"


def test_settlements_are_consistent_with_their_bets(events):
    for e in events:
        s = e["settlement"]
        if s is None:
            continue
        stake = e["bet"]["stake_minor"]
        assert 100 <= stake <= 50_000
        assert e["bet"]["currency"] in ("EUR", "GBP", "USD")
        if s["outcome"] == "LOSS":
            assert s["payout_minor"] == 0
        elif s["outcome"] == "PUSH":
            assert s["payout_minor"] == stake
        else:
            assert s["payout_minor"] > stake
        if s["hand"] == "natural_blackjack" and s["outcome"] == "WIN":
            assert s["payout_minor"] == stake * 5 // 2  # 3:2
        if e["game"] == "BACCARAT" and s["outcome"] == "WIN":
            expected = {
                "banker": 195 * stake // 100,
                "player": 2 * stake,
                "tie": 9 * stake,
                "player_pair": 12 * stake,
                "banker_pair": 12 * stake,
            }
            assert s["payout_minor"] == expected[e["bet"]["bet_type"]]


def test_players_sit_at_one_table_at_a_time_and_only_bet_while_seated(events):
    at: dict[str, str] = {}
    for e in events:
        pid, kind = e["player_id"], e["event_type"]
        if pid is None:
            continue
        if kind == "PLAYER_JOINED":
            assert pid not in at, f"{pid} joined {e['table_id']} while at {at.get(pid)}"
            at[pid] = e["table_id"]
        elif kind == "PLAYER_LEFT":
            assert at.pop(pid) == e["table_id"]
        else:
            assert at.get(pid) == e["table_id"], f"{pid} acted at a table it was not at: {e}"
    # and they do come and go
    kinds = Counter(e["event_type"] for e in events)
    assert kinds["PLAYER_LEFT"] > 1_000


def test_blackjack_seats_are_real_seats(events):
    seated: dict[tuple[str, str], str] = {}
    for e in events:
        if e["game"] != "BLACKJACK" or e["player_id"] is None:
            continue
        seat = e["attributes"]["seat"]
        assert 1 <= int(seat) <= 7
        if e["event_type"] == "PLAYER_JOINED":
            assert (e["table_id"], seat) not in seated, "two players in one seat"
            seated[(e["table_id"], seat)] = e["player_id"]
        elif e["event_type"] == "PLAYER_LEFT":
            del seated[(e["table_id"], seat)]


def test_dealers_rotate_every_n_rounds():
    cfg = StudioConfig(tables=4, players=100, dealer_rotation_rounds=5)
    events = StudioSimulator(cfg, 1, START).take(20_000)
    dealers: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e["event_type"] == "ROUND_STARTED":
            dealers[e["table_id"]].append(e["dealer_id"])
    for table, seq in dealers.items():
        assert len(seq) > 30
        changes = [i for i in range(1, len(seq)) if seq[i] != seq[i - 1]]
        assert changes and all(i % 5 == 0 for i in changes), (table, changes)
        assert len(set(seq)) == 3


def test_round_lengths_are_live_casino_lengths(complete_rounds):
    for evs in complete_rounds.values():
        length = evs[-1]["occurred_at"] - evs[0]["occurred_at"]
        assert 20_000 <= length <= 60_000


def test_time_scale_speeds_event_time_up():
    slow = event_rate(StudioConfig(tables=6, players=200), seed=1)
    fast = event_rate(StudioConfig(tables=6, players=200, time_scale=5.0), seed=1)
    assert 4.0 < fast / slow < 6.0


def test_chat_includes_birthdays_in_several_spellings():
    events = generate_events(100_000, seed=2, start_ms=START, chat_rate=0.2)
    chats = [e["chat_text"] for e in events if e["event_type"] == "CHAT_MESSAGE"]
    birthdays = [c for c in chats if "birthday" in c.lower()]
    assert 0.01 < len(birthdays) / len(chats) < 0.06  # ~3%; ~6,000 chats: se 0.2%
    assert len(set(birthdays)) == len(BIRTHDAY_LINES)
    assert any("Birthday" in c for c in birthdays) and any("BIRTHDAY" in c for c in birthdays)


def test_seat_targets_respect_seats_and_share_the_rest_by_popularity():
    specs = make_tables(12)
    targets = seat_targets(specs, 300)
    assert sum(targets) == 300
    for spec, n in zip(specs, targets, strict=True):
        if spec.seats:
            assert n <= spec.seats
    assert seat_targets(make_tables(12), 5) == seat_targets(make_tables(12), 5)
    assert sum(seat_targets(make_tables(12), 5)) == 5
    assert seat_targets(make_tables(3), 0) == [0, 0, 0]


def test_a_studio_without_players_still_deals_rounds():
    events = StudioSimulator(StudioConfig(tables=2, players=0), 1, START).take(50)
    assert {e["event_type"] for e in events} == {"ROUND_STARTED", "ROUND_ENDED"}


# --- statistics: the game models ----------------------------------------------------------


def test_blackjack_model_frequencies_and_return():
    rng = random.Random(11)
    n = 200_000
    hands = Counter(games.deal_blackjack_hand(rng) for _ in range(n))
    naturals = sum(c for h, c in hands.items() if h.hand == "natural_blackjack") / n
    assert abs(naturals - 0.0475) < 4 * _se(0.0475, n)  # 4 SE = 0.19 percentage points
    outcome = Counter()
    for h, c in hands.items():
        outcome[h.outcome] += c
    for name, p in (("WIN", 0.4242), ("LOSS", 0.4909), ("PUSH", 0.0848)):
        assert abs(outcome[name] / n - p) < 4 * _se(p, n), name
    # exact return from the table: doubled hands wager twice; 99.4-99.6% like the real game
    wagered = returned = 0.0
    for p, h in games.BLACKJACK_HANDS:
        bets = 2 if h.doubled else 1
        wagered += p * bets
        returned += p * bets * h.payout_halves / 2
    assert 0.994 < returned / wagered < 0.996


def test_roulette_model_odds():
    rng = random.Random(12)
    n = 370_000
    spins = [games.spin_roulette(rng) for _ in range(n)]
    hits = Counter(s.number for s in spins)
    assert set(hits) == set(range(37))
    # any one number: 1/37; 4 SE of 10,000 expected hits is 4 * 99 = ~400
    assert all(abs(hits[k] / n - 1 / 37) < 4 * _se(1 / 37, n) for k in (0, 17, 36))
    straight = sum(games.settle_roulette(s, "straight", "17", 100).outcome == "WIN" for s in spins)
    assert abs(straight / n - 1 / 37) < 4 * _se(1 / 37, n)
    red = sum(games.settle_roulette(s, "red", None, 100).outcome == "WIN" for s in spins)
    assert abs(red / n - 18 / 37) < 4 * _se(18 / 37, n)
    zero = games.spin_roulette(random.Random(0))._replace(number=0, label="0_green")
    for even_money in ("red", "black", "even", "odd", "low", "high"):
        assert games.settle_roulette(zero, even_money, None, 100).outcome == "LOSS"
    win = games.spin_roulette(random.Random(0))._replace(number=17, label="17_black")
    assert games.settle_roulette(win, "straight", "17", 100).payout_minor == 3600
    assert games.settle_roulette(win, "split", "14/17", 100).payout_minor == 1800
    assert games.settle_roulette(win, "dozen", "2", 100).payout_minor == 300
    assert games.settle_roulette(win, "column", "2", 100).payout_minor == 300


def test_lightning_roulette_pays_multipliers_on_struck_numbers():
    rng = random.Random(13)
    n = 200_000
    stake = 100
    returned = 0
    for _ in range(n):
        spin = games.spin_roulette(rng, lightning=True)
        assert 1 <= len(spin.lightning) <= 5
        s = games.settle_roulette(spin, "straight", str(spin.number), stake, lightning=True)
        mult = spin.lightning.get(spin.number)
        assert s.payout_minor == stake * (mult + 1 if mult else 30)
        returned += s.payout_minor
    # per straight-up hit: 30x or a multiplier; expected return ~97% of the 1/37 chance
    expected = games.roulette_straight_rtp(lightning=True)
    assert 0.96 < expected < 0.98
    assert abs(returned / (n * stake) / 37 - expected) < 0.02


def test_baccarat_model_frequencies_and_payouts():
    rng = random.Random(14)
    n = 200_000
    coups = [games.deal_baccarat_coup(rng) for _ in range(n)]
    results = Counter(c.result for c in coups)
    # 4 SE at n=200k: ~0.45 percentage points for banker/player, ~0.26 for tie
    for name, p in (("BANKER", 0.4586), ("PLAYER", 0.4462), ("TIE", 0.0952)):
        assert abs(results[name] / n - p) < 4 * _se(p, n), name
    pairs = sum(c.player_pair for c in coups) / n
    assert abs(pairs - 31 / 415) < 4 * _se(31 / 415, n)
    banker = games.Coup("BANKER", False, False)
    tie = games.Coup("TIE", False, False)
    assert games.settle_baccarat(banker, "banker", 1000) == (games.WIN, 1950, "banker_win")
    assert games.settle_baccarat(banker, "player", 1000).outcome == games.LOSS
    assert games.settle_baccarat(tie, "banker", 1000) == (games.PUSH, 1000, "tie")
    assert games.settle_baccarat(tie, "player", 1000) == (games.PUSH, 1000, "tie")
    assert games.settle_baccarat(tie, "tie", 1000) == (games.WIN, 9000, "tie")


def test_side_bet_returns_are_the_published_ones():
    for bet, lo, hi in (("perfect_pairs", 0.955, 0.962), ("21+3", 0.960, 0.966)):
        rtp = sum(p * ret for p, _, ret in games.SIDE_BETS[bet])
        assert lo < rtp < hi, (bet, rtp)
    rng = random.Random(15)
    n = 100_000
    wins = sum(games.settle_side_bet(rng, "perfect_pairs", 100).outcome == "WIN" for _ in range(n))
    assert abs(wins / n - 31 / 415) < 4 * _se(31 / 415, n)


# --- statistics: the generated stream ----------------------------------------------------


def test_stream_natural_blackjack_frequency(events):
    hands = [
        e
        for e in events
        if e["event_type"] == "BET_SETTLED"
        and e["game"] == "BLACKJACK"
        and e["bet"]["bet_type"] == "main"
    ]
    assert len(hands) > 5_000
    naturals = sum(e["settlement"]["hand"] == "natural_blackjack" for e in hands) / len(hands)
    # ~4.8% +-1 point; at n > 5,000 one standard error is 0.3 points, so 1 point is > 3 SE
    assert 0.038 < naturals < 0.058
    doubles = [
        e
        for e in events
        if e["event_type"] == "BET_SETTLED" and e["bet"]["bet_type"] == "double_down"
    ]
    assert 0.08 < len(doubles) / len(hands) < 0.14  # ~11% of hands doubled


def test_stream_roulette_straight_wins_one_in_37(events):
    straight = [
        e for e in events if e["event_type"] == "BET_SETTLED" and e["bet"]["bet_type"] == "straight"
    ]
    n = len(straight)
    assert n > 20_000
    wins = sum(e["settlement"]["outcome"] == "WIN" for e in straight)
    # bets on one spin share the ball, so allow 6 SE rather than 4 for the clustering
    assert abs(wins / n - 1 / 37) < 6 * _se(1 / 37, n)
    for e in straight:  # and a win means the ball landed on the pick
        if e["settlement"]["outcome"] == "WIN":
            assert e["settlement"]["hand"].split("_")[0] == e["attributes"]["pick"]


def test_stream_baccarat_coups(events):
    ends = [e for e in events if e["event_type"] == "ROUND_ENDED" and e["game"] == "BACCARAT"]
    n = len(ends)
    assert n > 1_500
    results = Counter(e["attributes"]["result"] for e in ends)
    for name, p in (("BANKER", 0.4586), ("PLAYER", 0.4462), ("TIE", 0.0952)):
        assert abs(results[name] / n - p) < 4 * _se(p, n), name


def test_stream_stakes_are_realistic(events):
    stakes = sorted(e["bet"]["stake_minor"] for e in events if e["event_type"] == "BET_PLACED")
    median = stakes[len(stakes) // 2]
    assert 250 <= median <= 1_000  # a few euros
    assert stakes[0] >= 100 and stakes[-1] <= 50_000
    assert stakes[int(len(stakes) * 0.99)] >= 5_000  # a tail of high rollers
    currencies = Counter(e["bet"]["currency"] for e in events if e["event_type"] == "BET_PLACED")
    assert set(currencies) == {"EUR", "GBP", "USD"}


# --- the CLI ------------------------------------------------------------------------------


def _cli():
    spec = importlib.util.spec_from_file_location("simulate_cli", ROOT / "scripts/simulate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_defaults_and_preload():
    cli = _cli()
    args = cli.parse_args([])
    assert (args.rate, args.tables, args.players, args.count) == (200.0, 12, 500, None)
    assert args.realtime_clock is True and args.profiles is True
    args = cli.parse_args(["--preload", "1000"])
    assert (args.count, args.rate, args.realtime_clock) == (1000, 0.0, False)
    assert cli.parse_args(["--rate", "0"]).realtime_clock is False
    with pytest.raises(SystemExit):
        cli.parse_args(["--rate", "0", "--realtime-clock"])
    with pytest.raises(SystemExit):
        cli.parse_args(["--start", "2026-11-22T06:00:00Z"])
    assert cli.parse_args(["--no-realtime-clock", "--start", "2026-11-22T06:00:00Z"]).start == START
