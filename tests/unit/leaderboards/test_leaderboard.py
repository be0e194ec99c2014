"""The pure leaderboard: ordering, ties, truncation, idempotence, and exactness."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.leaderboards.board import (
    BadScore,
    Board,
    BoardKey,
    Entry,
    ScoreUpdate,
    apply,
    board_key,
    changed_boards,
    encode_score,
    erased_from,
    expired,
    parse_board_key,
    parse_score,
    period_end,
)


def rows(raw: bytes) -> list[tuple[str, int]]:
    board = Board.from_bytes(raw)
    assert board is not None
    return [(e.player_id, e.total) for e in board.entries]


def up(player: str, total: int, at: int = 0, top: int = 3) -> ScoreUpdate:
    return ScoreUpdate(player, total, at, top)


def test_a_new_board_sorts_by_total_descending():
    raw = apply(None, [up("a", 5), up("b", 9), up("c", 7)])
    assert rows(raw) == [("b", 9), ("c", 7), ("a", 5)]


def test_a_tie_goes_to_whoever_reached_the_total_first_then_to_player_id():
    raw = apply(None, [up("late", 10, at=200), up("early", 10, at=100), up("b", 10, at=100)])
    assert rows(raw) == [("b", 10), ("early", 10), ("late", 10)]


def test_the_board_keeps_only_the_top_n():
    raw = apply(None, [up(f"p{i}", i, top=3) for i in range(10)])
    assert rows(raw) == [("p9", 9), ("p8", 8), ("p7", 7)]


def test_a_player_rises_into_the_top_n_and_evicts_the_lowest():
    raw = apply(None, [up("a", 30), up("b", 20), up("c", 10), up("d", 5)])
    assert rows(raw) == [("a", 30), ("b", 20), ("c", 10)]
    raw = apply(raw, [up("d", 25)])
    assert rows(raw) == [("a", 30), ("d", 25), ("b", 20)]


def test_a_total_equal_to_the_lowest_but_reached_later_does_not_get_in():
    raw = apply(None, [up("a", 30, at=1), up("b", 20, at=1), up("c", 10, at=1)])
    assert apply(raw, [up("d", 10, at=2)]) == raw


def test_an_update_for_a_player_on_the_board_moves_them_without_a_duplicate():
    raw = apply(None, [up("a", 30), up("b", 20), up("c", 10)])
    raw = apply(raw, [up("c", 40, at=5)])
    assert rows(raw) == [("c", 40), ("a", 30), ("b", 20)]
    board = Board.from_bytes(raw)
    assert board is not None and board.entries[0] == Entry("c", 40, 5)


def test_a_lower_or_repeated_total_never_lowers_a_player():
    raw = apply(None, [up("a", 30, at=10), up("b", 20, at=10)])
    # a re-delivered old update, and the same update again
    assert apply(raw, [up("a", 12, at=5), up("b", 20, at=10)]) == raw


def test_reaching_the_same_total_again_later_keeps_the_earlier_time():
    raw = apply(None, [up("a", 10, at=100)])
    again = Board.from_bytes(apply(raw, [up("a", 10, at=900)]))
    assert again is not None and again.entries == (Entry("a", 10, 100),)


def test_the_latest_update_sets_n_and_a_smaller_n_truncates():
    raw = apply(None, [up(f"p{i}", i, top=5) for i in range(5)])
    raw = apply(raw, [up("p0", 1, top=2)])
    board = Board.from_bytes(raw)
    assert board is not None and board.top == 2
    assert rows(raw) == [("p4", 4), ("p3", 3)]


def test_no_updates_leave_the_stored_bytes_alone():
    raw = apply(None, [up("a", 1)])
    assert apply(raw, []) is raw


def test_the_serialization_is_compact_and_round_trips():
    raw = apply(None, [up("a", 10, at=7, top=10)])
    assert raw == b'{"n":10,"r":[["a",10,7]]}'
    assert Board.from_bytes(raw) == Board(10, (Entry("a", 10, 7),))
    assert Board.from_bytes(None) is None


# -- the topic encoding ------------------------------------------------------------------


def test_encode_and_parse_round_trip():
    key, value = encode_score("points-per-game-daily:BLACKJACK:2026-11-22", "p1", 42, 1_000, 10)
    assert key == b"points-per-game-daily:BLACKJACK:2026-11-22"
    assert orjson.loads(value) == {"player_id": "p1", "total": 42, "event_time": 1_000, "top": 10}
    assert parse_score(key, value) == (key.decode(), ScoreUpdate("p1", 42, 1_000, 10))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"board", b"{not json"),
        (b"board", None),
        (None, encode_score("b", "p", 1, 1, 1)[1]),
        (b"\xff\xfe", encode_score("b", "p", 1, 1, 1)[1]),
        (b"board", b"[1, 2]"),
        (b"board", b'{"player_id": "", "total": 1, "event_time": 1, "top": 1}'),
        (b"board", b'{"player_id": "p", "total": "1", "event_time": 1, "top": 1}'),
        (b"board", b'{"player_id": "p", "total": true, "event_time": 1, "top": 1}'),
        (b"board", b'{"player_id": "p", "total": 1, "event_time": 1, "top": 0}'),
        (b"board", b'{"player_id": "p", "total": 1, "top": 3}'),
    ],
)
def test_a_malformed_score_record_is_a_bad_score(key, value):
    with pytest.raises(BadScore):
        parse_score(key, value)


# -- exactness ---------------------------------------------------------------------------

players = st.sampled_from([f"p{i}" for i in range(12)])
# (player, increment, event time step) triples; each player's totals rise monotonically
steps = st.lists(st.tuples(players, st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=80)


@given(steps=steps, top=st.integers(1, 6), cut=st.lists(st.integers(0, 80), max_size=6))
def test_the_board_is_the_true_top_n_of_the_final_totals(steps, top, cut):
    """However the updates are split into batches, and even with every batch re-delivered,
    the board equals the top N computed from scratch from each player's final total."""
    totals: dict[str, int] = {}
    reached: dict[str, int] = {}  # when each player first reached their current total
    updates: list[ScoreUpdate] = []
    clock = 0
    for player, inc, dt in steps:
        clock += dt
        old = totals.get(player)
        totals[player] = (old or 0) + inc
        if old is None or inc > 0:
            reached[player] = clock
        updates.append(ScoreUpdate(player, totals[player], clock, top))

    raw: bytes | None = None
    bounds = sorted({0, *(c for c in cut if c < len(updates)), len(updates)})
    for lo, hi in pairwise(bounds):
        raw = apply(raw, updates[lo:hi])
        raw = apply(raw, updates[lo:hi])  # re-delivery changes nothing

    expected = sorted(totals, key=lambda p: (-totals[p], reached[p], p))[:top]
    board = Board.from_bytes(raw)
    assert board is not None
    assert [(e.player_id, e.total, e.event_time) for e in board.entries] == [
        (p, totals[p], reached[p]) for p in expected
    ]
    assert apply(raw, updates) == raw  # a late re-delivery of everything changes nothing


def test_only_boards_an_update_changes_are_written():
    daily, weekly = b"points-daily:ALL:2026-11-22", b"points-weekly:ALL:2026-W47"
    stored = {daily: apply(None, [ScoreUpdate("ann", 10, 1_000, 3)])}
    changed = changed_boards(
        stored,
        {
            daily: [ScoreUpdate("ann", 5, 2_000, 3)],  # a lower, late total: no difference
            weekly: [ScoreUpdate("bob", 7, 1_500, 3)],  # a new board
        },
    )
    assert list(changed) == [weekly]
    assert rows(changed[weekly]) == [("bob", 7)]
    assert changed_boards(stored, {daily: [ScoreUpdate("bob", 11, 3_000, 3)]}) == {
        daily: apply(stored[daily], [ScoreUpdate("bob", 11, 3_000, 3)])
    }


def test_a_board_key_is_made_in_one_place_and_parsed_back():
    key = board_key("points-per-game-daily", "BLACKJACK", "2026-11-22")
    assert key == "points-per-game-daily:BLACKJACK:2026-11-22"
    assert parse_board_key(key) == BoardKey("points-per-game-daily", "BLACKJACK", "2026-11-22")
    assert parse_board_key(board_key("points-weekly", "ALL", "2026-W47")).period == "2026-W47"


@pytest.mark.parametrize("key", ["", "points", "points:ALL", "a:b:c:d", "points::ever", ":ALL:x"])
def test_anything_else_is_not_a_board_key(key):
    with pytest.raises(ValueError, match="not a board key"):
        parse_board_key(key)
    assert period_end(key) is None


def test_a_board_period_ends_on_its_last_day_and_ever_never_ends():
    assert period_end("points-daily:ALL:2026-11-22") == date(2026, 11, 22)
    assert period_end("points-weekly:BLACKJACK:2026-W47") == date(2026, 11, 22)  # its Sunday
    assert period_end("points-all-time:ALL:ever") is None
    assert period_end("custom:ALL:not-a-period") is None


def test_a_board_expires_only_after_its_retention_plus_a_day_of_slack():
    key = "points-daily:ALL:2026-11-01"
    assert not expired(key, date(2026, 11, 1), retention_days=7)
    assert not expired(key, date(2026, 11, 9), retention_days=7)  # 8 days: still in the slack
    assert expired(key, date(2026, 11, 10), retention_days=7)
    assert not expired("points-weekly:ALL:2026-W44", date(2026, 11, 9), retention_days=7)
    assert expired("points-weekly:ALL:2026-W44", date(2026, 11, 10), retention_days=7)
    assert not expired("points-all-time:ALL:ever", date(2099, 1, 1), retention_days=0)


def test_an_erased_player_leaves_every_board_that_lists_them_and_no_other():
    listed = Board(3, (Entry("p-a", 30, 1), Entry("p-gone", 20, 2), Entry("p-b", 10, 3)))
    other = Board(3, (Entry("p-a", 5, 1),))
    stored = {b"k1": listed.to_bytes(), b"k2": other.to_bytes()}
    changed = erased_from(stored, {"p-gone"})
    assert list(changed) == [b"k1"]  # a board without them is not rewritten
    after = Board.from_bytes(changed[b"k1"])
    assert [e.player_id for e in after.entries] == ["p-a", "p-b"] and after.top == 3
    assert erased_from({b"k1": changed[b"k1"]}, {"p-gone"}) == {}  # idempotent
