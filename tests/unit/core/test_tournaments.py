"""Tournaments: the ``tournaments:`` section, scoring in the core (kind or expression, sum or
max, minimum bet, counted bets, eligibility, the RG guard), the tie-break, finalisation
with ids that never change and no player in the kept entry, and the payout on the winner's
partition (the issue path's guards and caps, once per prize id)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import orjson
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from app.contract.codec import AvroCodec
from app.core import Engine, PlayerState
from app.core.compile import RulesetError
from app.core.state import CooldownState
from app.core.tournaments import closes_at, finalise, prize_id
from app.leaderboards.board import (
    Board,
    ScoreUpdate,
    changed_boards,
    encode_closing,
    final_and_over,
    overdue,
    parse_closing,
    walk,
)
from app.pipeline.inputs import player_command, tournament_prize
from app.rules.loader import validate_document
from app.rules.policy import default_policies
from tests.support.factories import ms, settled, table_event
from tests.support.rulesets import PLAYER, ruleset, run

T0 = ms("2026-12-01T18:00:00Z")
HOUR = 3_600_000

TOURNAMENTS = """
ruleset: tournaments-test
protection: {daily_points_cap: null}
rules:
  - id: per-bet
    events: [BET_PLACED]
    reward: {kind: POINTS, amount: 10}
tournaments:
  - id: evening
    schedule: {from: "2026-12-01T18:00:00Z", until: "2026-12-01T20:00:00Z"}
    score: {kind: POINTS}
    min_bet: 1000
    max_bets: 3
    grace: 10m
    prizes:
      - {ranks: 1, kind: POINTS, amount: 500}
      - {ranks: 2-3, kind: WHEEL_SPIN, amount: 1}
  - id: multiplier
    schedule: {every: day, zone: Europe/Malta}
    score:
      expr: event.settlement.payout_minor / event.bet.stake_minor
      aggregate: max
    segments: [vip]
    prizes: [{ranks: 1, amount: 100}]
"""


def engine(text: str = TOURNAMENTS) -> Engine:
    return Engine(ruleset(text), "UTC")


def bet(at: int, stake: int = 2500) -> dict:
    return table_event(
        occurred_at=at, bet={"bet_type": "main", "stake_minor": stake, "currency": "EUR"}
    )


def win(at: int, payout: int, stake: int = 1000) -> dict:
    event = settled("WIN", occurred_at=at)
    event["bet"] = {"bet_type": "main", "stake_minor": stake, "currency": "EUR"}
    event["settlement"] = {**event["settlement"], "payout_minor": payout}
    return event


def scores(out, board: str) -> list[int]:
    return [total for key, _p, total, _t, _n in out.scores if key.startswith(board + ":")]


# -- the section ---------------------------------------------------------------------------


def test_the_section_compiles_and_passes_the_json_schema():
    problems = validate_document(yaml.safe_load(TOURNAMENTS), "t.yaml", {}, default_policies())
    assert [p.message for p in problems] == []
    evening, multiplier = ruleset(TOURNAMENTS).tournaments
    assert (evening.min_bet, evening.max_bets, evening.grace_ms, evening.top) == (
        1000,
        3,
        600_000,
        10,
    )
    assert [(p.first, p.last, p.kind) for p in evening.prizes] == [
        (1, 1, "POINTS"),
        (2, 3, "WHEEL_SPIN"),
    ]
    assert multiplier.aggregate == "max" and multiplier.segments == {"vip"}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"score": {"kind": "POINTS", "expr": "1"}}, "tournaments[0].score"),
        ({"score": {"kind": "POINTS", "aggregate": "max"}}, "tournaments[0].score.aggregate"),
        ({"prizes": [{"ranks": "1-3", "amount": 5}, {"ranks": 3, "amount": 1}]}, "prizes"),
        ({"prizes": [{"ranks": "3-1", "amount": 5}]}, "tournaments[0].prizes[0].ranks"),
        ({"schedule": {"every": "hour"}}, "tournaments[0].schedule.every"),
        ({"schedule": {"every": "day", "zone": "Mars/Olympus"}}, "schedule.zone"),
        ({"entry": "buy-in"}, "tournaments[0].entry"),
        ({"id": "daily"}, "tournaments[0].id"),
        ({"score": {"expr": "event.nope > 1"}}, "tournaments[0].score.expr"),
    ],
)
def test_a_bad_tournament_is_refused_naming_the_field(change, where):
    doc = yaml.safe_load(TOURNAMENTS)
    doc["leaderboards"] = [{"id": "daily"}]
    doc["tournaments"][0].update(change)
    with pytest.raises(RulesetError) as error:
        ruleset(yaml.safe_dump(doc))
    assert where in str(error.value)


# -- scoring -------------------------------------------------------------------------------


def test_the_kind_s_amounts_sum_per_counted_bet_up_to_the_maximum():
    events = [bet(T0 + i * 1000) for i in range(5)]
    state, out = run(engine(), events)
    assert scores(out, "evening") == [10, 20, 30]  # max_bets: 3
    assert {key for key, *_ in out.scores} == {"evening:ALL:once"}
    assert state.boards["evening:ALL:once"] == 30


def test_a_bet_under_the_minimum_neither_scores_nor_counts():
    events = [bet(T0, stake=500), bet(T0 + 1, stake=999), *(bet(T0 + 10 + i) for i in range(4))]
    _, out = run(engine(), events)
    assert scores(out, "evening") == [10, 20, 30]


def test_play_outside_the_schedule_scores_nothing():
    _, out = run(engine(), [bet(T0 - 1), bet(T0 + 2 * HOUR)])
    assert scores(out, "evening") == []


def test_a_self_excluded_player_scores_nothing():
    _, out = run(engine(), [bet(T0)], profile={**PLAYER, "self_excluded": True})
    assert out.scores == []


def test_max_keeps_the_best_value_and_only_a_rise_is_sent():
    vip = {**PLAYER, "segments": ["vip"]}
    events = [win(T0, 3000), win(T0 + 1, 2000), win(T0 + 2, 8000)]
    _, out = run(engine(), events, profile=vip)
    assert scores(out, "multiplier") == [3, 8]
    # the occurrence is the day in the tournament's zone (19:00 in Malta)
    assert [k for k, *_ in out.scores] == ["multiplier:ALL:2026-12-01"] * 2
    _, out = run(engine(), events, profile={**PLAYER, "segments": ["casual"]})
    assert scores(out, "multiplier") == []  # not in the segment


def test_a_new_day_starts_a_new_occurrence_and_forgets_the_old_one():
    vip = {**PLAYER, "segments": ["vip"]}
    state, out = run(engine(), [win(T0, 5000), win(T0 + 24 * HOUR, 2000)], profile=vip)
    assert [(k, total) for k, _p, total, _t, _n in out.scores] == [
        ("multiplier:ALL:2026-12-01", 5),
        ("multiplier:ALL:2026-12-02", 2),
    ]
    assert [k for k in state.boards if k.startswith("multiplier")] == ["multiplier:ALL:2026-12-02"]


def test_scores_are_the_same_however_the_events_are_batched():
    events = [bet(T0 + i) for i in range(5)]
    whole = run(engine(), events)[1].scores
    state, first = run(engine(), events[:2])
    _, rest = run(engine(), events[2:], state=state)
    assert first.scores + rest.scores == whole


# -- standings and finalisation --------------------------------------------------------------


def board_of(updates: list[ScoreUpdate]) -> Board:
    return Board(10).updated(updates)


TIED = [
    ScoreUpdate("p-c", 30, T0 + 5, 10),
    ScoreUpdate("p-b", 30, T0 + 5, 10),  # same score, same time: player id decides
    ScoreUpdate("p-a", 30, T0 + 9, 10),  # same score reached later
    ScoreUpdate("p-d", 50, T0 + 20, 10),
    ScoreUpdate("p-e", 10, T0, 10),
]


def test_ranks_go_by_score_then_earlier_reach_then_player_id():
    evening = ruleset(TOURNAMENTS).tournaments[0]
    finished = finalise(board_of(TIED), evening, "once", now_ms=1)
    assert [(p["player_id"], p["rank"], p["score"], p["kind"], p["amount"]) for p in
            finished.prizes] == [
        ("p-d", 1, 50, "POINTS", 500),
        ("p-b", 2, 30, "WHEEL_SPIN", 1),
        ("p-c", 3, 30, "WHEEL_SPIN", 1),
    ]  # fmt: skip
    assert [p["prize_id"] for p in finished.prizes] == [
        prize_id("evening", "once", rank) for rank in (1, 2, 3)
    ]
    assert finished.entry["decision"] == "TOURNAMENT_FINISHED"
    assert finished.entry["event_time"] == ms("2026-12-01T20:00:00Z")


def test_the_finished_entry_lists_ranks_scores_and_prize_ids_but_no_player():
    evening = ruleset(TOURNAMENTS).tournaments[0]
    finished = finalise(board_of(TIED), evening, "once", now_ms=1)
    standings = orjson.loads(finished.entry["details"]["standings"])
    assert standings == [
        {"rank": 1, "score": 50, "reward_id": prize_id("evening", "once", 1)},
        {"rank": 2, "score": 30, "reward_id": prize_id("evening", "once", 2)},
        {"rank": 3, "score": 30, "reward_id": prize_id("evening", "once", 3)},
        {"rank": 4, "score": 30},
        {"rank": 5, "score": 10},
    ]
    assert finished.entry["player_id"] is None
    assert b"p-" not in orjson.dumps(finished.entry)  # kept for ever: nothing to erase


def test_finalising_again_mints_the_same_ids_whatever_the_order_of_the_updates():
    evening = ruleset(TOURNAMENTS).tournaments[0]
    once = finalise(board_of(TIED), evening, "once", now_ms=1)
    again = finalise(board_of(TIED[::-1]), evening, "once", now_ms=2)
    assert [p["prize_id"] for p in once.prizes] == [p["prize_id"] for p in again.prizes]
    assert once.entry["entry_id"] == again.entry["entry_id"]
    assert once.entry["details"] == again.entry["details"]


def test_a_final_board_takes_no_more_scores_and_keeps_its_mark():
    key = b"evening:ALL:once"
    final = board_of(TIED).finalised()
    raw = final.to_bytes()
    assert Board.from_bytes(raw) == final
    late = {key: [ScoreUpdate("p-z", 999, T0 + 1, 10)]}
    assert changed_boards({key: raw}, late) == {}  # nothing written: never paid again
    assert Board.from_bytes(board_of(TIED).to_bytes()).final is False
    assert final.without({"p-d"}).final


def test_a_one_off_s_final_board_is_swept_after_the_retention_an_open_one_never():
    newest = date(2026, 12, 1)  # TIED's latest reach: T0 + 20 ms
    final, open_board = board_of(TIED).finalised(), board_of(TIED)
    assert not final_and_over(final, newest + timedelta(days=8), retention_days=7)
    assert final_and_over(final, newest + timedelta(days=9), retention_days=7)
    assert not final_and_over(open_board, newest + timedelta(days=900), retention_days=7)
    assert not final_and_over(None, newest + timedelta(days=900), retention_days=7)


def test_an_occurrence_closes_at_its_end_plus_grace():
    evening, multiplier = ruleset(TOURNAMENTS).tournaments
    assert evening.closes_at("once") == ms("2026-12-01T20:00:00Z") + 600_000
    assert multiplier.closes_at("2026-12-01") == ms("2026-12-01T23:00:00Z")  # Malta midnight
    with pytest.raises(ValueError):
        evening.closes_at("2026-12-01")


def test_only_a_running_tournament_s_board_has_a_closing_time():
    running = {t.tournament_id: t for t in ruleset(TOURNAMENTS).tournaments}
    assert closes_at(running, b"evening:ALL:once") == ms("2026-12-01T20:10:00Z")
    assert closes_at(running, b"multiplier:ALL:2026-12-01") == ms("2026-12-01T23:00:00Z")
    for other in (b"points-daily:ALL:2026-12-01", b"evening:BLACKJACK:once", b"evening:ALL:x"):
        assert closes_at(running, other) is None


# -- closing by event time ---------------------------------------------------------------------

EVENING = b"evening:ALL:once"
DAILY = b"points-daily:BLACKJACK:2026-12-01"  # an ordinary board on the same partition
CLOSES = ms("2026-12-01T20:10:00Z")


def closing_time(key: bytes) -> int | None:
    return CLOSES if key == EVENING else None


def walk_in(cuts: list[int], records: list[tuple[bytes, ScoreUpdate]]) -> tuple[list, dict]:
    """Walk ``records`` cut into batches at ``cuts``, carrying the partition's time and
    open boards from batch to batch as the reserved keys do: (closed, counted updates)."""
    watermark, closing = 0, {}
    closed, counted = [], {}
    bounds = [0, *sorted(c % (len(records) + 1) for c in cuts), len(records)]
    for start, stop in pairwise(bounds):
        walked = walk(records[start:stop], watermark, closing, closing_time)
        watermark, closing = walked.watermark, walked.closing
        closed += walked.closed
        for key, updates in walked.updates.items():
            counted.setdefault(key, []).extend(updates)
    return closed, counted


PLAY = [
    (EVENING, ScoreUpdate("p-a", 30, T0 + 5, 10)),
    (DAILY, ScoreUpdate("p-b", 10, T0 + 2 * HOUR, 10)),  # 20:00: over, but within the grace
    (EVENING, ScoreUpdate("p-b", 40, T0 + 2 * HOUR - 1, 10)),  # late, within the grace: counts
    (DAILY, ScoreUpdate("p-c", 10, CLOSES, 10)),  # the partition's time reaches end + grace
    (EVENING, ScoreUpdate("p-c", 90, T0 + 7, 10)),  # after the close: too late
]


def test_a_board_closes_when_the_partition_s_event_time_passes_end_plus_grace():
    walked = walk(PLAY[:3], 0, {}, closing_time)
    assert walked.closed == [] and walked.closing == {EVENING: CLOSES}
    walked = walk(PLAY, 0, {}, closing_time)
    assert walked.closed == [EVENING] and walked.closing == {}
    assert walked.watermark == CLOSES
    assert [u.player_id for u in walked.updates[EVENING]] == ["p-a", "p-b"]
    assert walked.late == 1


def test_a_score_for_a_board_already_closed_is_dropped_in_a_later_batch_too():
    walked = walk(PLAY[4:], CLOSES, {}, closing_time)  # the board's close came before
    assert walked.updates == {} and walked.late == 1 and walked.closed == []


@given(cuts=st.lists(st.integers(0, 50), max_size=4), extra=st.lists(st.integers(0, 5), max_size=8))
def test_what_a_closed_board_counts_does_not_depend_on_the_batching(cuts, extra):
    more = [(EVENING, ScoreUpdate(f"p-{i}", 5 + i, T0 + i, 10)) for i in extra]
    records = PLAY[:1] + more + PLAY[1:] + more  # the second lot comes after the close
    whole = walk_in([], records)
    assert walk_in(cuts, records) == whole
    assert whole[0] == [EVENING]
    counted = [u.player_id for u in whole[1][EVENING]]
    assert counted == ["p-a", *(u.player_id for _k, u in more), "p-b"]


def test_a_quiet_board_is_overdue_by_the_wall_clock_only_after_the_idle_allowance():
    closing = {EVENING: CLOSES, DAILY: CLOSES + 1}
    assert overdue(closing, CLOSES + 59_999, allowance_ms=60_000) == []
    assert overdue(closing, CLOSES + 60_000, allowance_ms=60_000) == [EVENING]
    assert overdue(closing, CLOSES + 60_001, allowance_ms=60_000) == [EVENING, DAILY]  # by key
    assert parse_closing(encode_closing(closing)) == closing


# -- opt-in entry ----------------------------------------------------------------------------

OPT_IN = TOURNAMENTS.replace("    grace: 10m\n", "    grace: 10m\n    entry: opt-in\n")


def command(at: int, kind: str, target: str) -> dict:
    event, problem = player_command(
        {
            "command_id": f"c-{at}-{kind}",
            "player_id": "p-000001",
            "type": kind,
            "target_id": target,
            "occurred_at": at,
        }
    )
    assert problem is None, problem
    return event


def outcomes(out) -> list[tuple[str, str]]:
    return [
        (e["decision"], e["reason"]) for e in out.journal if e["decision"].startswith("COMMAND_")
    ]


def test_an_opt_in_tournament_scores_only_after_the_player_joins():
    events = [bet(T0), command(T0 + 1, "OPT_IN", "evening"), bet(T0 + 2)]
    _, out = run(engine(OPT_IN), events)
    assert scores(out, "evening") == [10]  # the bet before the opt-in did not count
    assert outcomes(out) == [("COMMAND_APPLIED", "opt_in")]
    joined = next(e for e in out.journal if e["decision"] == "COMMAND_APPLIED")
    assert joined["rule_id"] == "tournament:evening"
    assert joined["details"]["occurrence"] == "once"


def test_joining_twice_outside_the_schedule_or_an_automatic_one_is_refused():
    events = [
        command(T0 - 1, "OPT_IN", "evening"),  # before it starts
        command(T0, "OPT_IN", "evening"),
        command(T0 + 1, "OPT_IN", "evening"),  # again
    ]
    _, out = run(engine(OPT_IN), events)
    assert outcomes(out) == [
        ("COMMAND_REFUSED", "not_available"),
        ("COMMAND_APPLIED", "opt_in"),
        ("COMMAND_REFUSED", "already_in"),
    ]
    _, out = run(engine(), [command(T0, "OPT_IN", "evening")])
    assert outcomes(out) == [("COMMAND_REFUSED", "not_opt_in")]


def test_a_buy_in_is_paid_from_the_balance_on_joining_or_the_opt_in_is_refused():
    buy_in = engine(OPT_IN.replace("    entry: opt-in\n", "    entry: opt-in\n    buy_in: 50\n"))
    poor, out = run(buy_in, [command(T0, "OPT_IN", "evening")], state=PlayerState(balance=30))
    assert outcomes(out) == [("COMMAND_REFUSED", "insufficient_points")]
    assert poor.balance == 30 and not any(k.startswith("evening:in") for k in poor.boards)
    rich, out = run(buy_in, [command(T0, "OPT_IN", "evening")], state=PlayerState(balance=80))
    assert outcomes(out) == [("COMMAND_APPLIED", "opt_in")]
    assert rich.balance == 30
    _, out = run(
        buy_in,
        [command(T0, "OPT_IN", "evening")],
        profile={**PLAYER, "self_excluded": True},
        state=PlayerState(balance=80),
    )
    assert outcomes(out) == [("COMMAND_REFUSED", "guarded")]


def test_a_buy_in_needs_opt_in_entry():
    with pytest.raises(RulesetError, match="buy_in"):
        ruleset(TOURNAMENTS.replace("    grace: 10m\n", "    grace: 10m\n    buy_in: 5\n"))


# -- payout on the winner's partition ----------------------------------------------------------

END = ms("2026-12-01T20:00:00Z")
PAID_AT = END + 11 * 60_000


def prize_event(rank: int = 1, at: int = PAID_AT, kind: str = "POINTS", amount: int = 500):
    """The prize record finalisation publishes, as the winner's partition reads it."""
    record = {
        "prize_id": prize_id("evening", "once", rank),
        "player_id": "p-000001",
        "tournament_id": "evening",
        "tournament_version": 3,
        "occurrence": "once",
        "rank": rank,
        "score": 50,
        "kind": kind,
        "amount": amount,
        "currency": None,
        "ended_at": END,
        "awarded_at": at,
    }
    event, problem = tournament_prize(record)
    assert problem is None, problem
    return event


def test_finalisation_publishes_what_the_winner_s_partition_reads():
    evening = ruleset(TOURNAMENTS).tournaments[0]
    finished = finalise(board_of(TIED), evening, "once", now_ms=PAID_AT)
    codec = AvroCodec("TournamentPrize")
    for record in finished.prizes:
        assert codec.decode(codec.encode(record)) == record
        event, problem = tournament_prize(record)
        assert problem is None
        assert event["event_id"] == f"prize:{record['prize_id']}"
        assert (event["player_id"], event["occurred_at"]) == (record["player_id"], PAID_AT)


def test_a_prize_is_issued_with_the_prize_s_id_and_credited():
    state, out = run(engine(), [prize_event()], state=PlayerState(balance=7))
    [reward] = out.rewards
    assert reward["reward_id"] == prize_id("evening", "once", 1)
    assert (reward["rule_id"], reward["rule_version"]) == ("tournament:evening", 3)
    assert (reward["kind"], reward["amount"], reward["event_time"]) == ("POINTS", 500, PAID_AT)
    assert reward["attributes"] == {"tournament": "evening", "occurrence": "once", "rank": "1"}
    [entry] = out.journal
    assert entry["decision"] == "REWARD_ISSUED" and entry["player_id"] == "p-000001"
    assert entry["reward_id"] == reward["reward_id"]
    assert state.balance == 507


def test_a_re_published_prize_is_paid_once():
    first = prize_event(at=PAID_AT)
    again = prize_event(at=PAID_AT + 60_000)  # finalised again after a crash: a later clock
    state, out = run(engine(), [first, again])
    assert len(out.rewards) == 1 and out.duplicates == 1
    assert state.balance == 500


def test_the_guards_apply_at_payout():
    _, out = run(engine(), [prize_event()], profile={**PLAYER, "self_excluded": True})
    assert out.rewards == []
    [held] = out.journal
    assert (held["decision"], held["reason"]) == ("REWARD_SUPPRESSED", "self_excluded")
    assert held["reward_id"] == prize_id("evening", "once", 1)
    cooling = PlayerState(cooldown=CooldownState("cd-1", PAID_AT - 1, PAID_AT + 1, "test"))
    _, out = run(engine(), [prize_event()], state=cooling)
    assert out.rewards == [] and out.journal[0]["reason"] == "cooldown_active"
    capped = engine(TOURNAMENTS.replace("daily_points_cap: null", "daily_points_cap: 200"))
    _, out = run(capped, [prize_event()])
    assert [r["amount"] for r in out.rewards] == [200]
    assert [e["decision"] for e in out.journal] == ["REWARD_SUPPRESSED", "REWARD_ISSUED"]


def test_a_prize_is_never_late_and_moves_no_horizon():
    later_play = bet(PAID_AT + 3 * HOUR)
    state, out = run(engine(), [later_play, prize_event()])
    assert [r["reward_id"] for r in out.rewards if r["rule_id"] == "tournament:evening"] == [
        prize_id("evening", "once", 1)
    ]
    assert out.late == 0 and state.last_event_at == later_play["occurred_at"]


def test_a_prize_record_without_an_id_or_with_a_bad_amount_is_refused():
    good = {
        "prize_id": "rw-1", "player_id": "p-1", "tournament_id": "t", "tournament_version": 1,
        "occurrence": "once", "rank": 1, "score": 9, "kind": "POINTS", "amount": 5,
        "currency": None, "ended_at": END, "awarded_at": PAID_AT,
    }  # fmt: skip
    assert tournament_prize(good)[1] is None
    for change, words in (
        ({"prize_id": ""}, "prize_id"),
        ({"amount": 0}, "positive amount"),
        ({"kind": "JACKPOT"}, "reward kind"),
        ({"currency": "euro"}, "ISO-4217"),
    ):
        assert words in tournament_prize({**good, **change})[1]
