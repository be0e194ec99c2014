"""A leaderboard as the player sees it: the top rows from the board the leaderboards agent
wrote to its changelog (ranks and scores, never another player's id), and their own rank and
score."""

from __future__ import annotations

from app.core.state import PlayerState
from app.gateway.feed import PlayerFeed
from app.gateway.view import leaderboard_view
from app.leaderboards.board import Board, Entry, encode_erasure, encode_score
from tests.support.factories import ERASURE_KEY

KEY = "points-daily:ALL:2026-12-02"
BOARD = Board(3, (Entry("p-a", 90, 1), Entry("p-b", 70, 2), Entry("p-c", 40, 3)))


def playing(score: int) -> PlayerState:
    state = PlayerState.from_bytes(None)
    state.boards[KEY] = score
    return state


def test_the_feed_keeps_the_latest_board_and_forgets_a_tombstoned_one():
    feed = PlayerFeed(4, ERASURE_KEY, "UTC", 10)
    feed.apply_board(KEY.encode(), Board(3, (Entry("p-a", 10, 1),)).to_bytes())
    feed.apply_board(KEY.encode(), BOARD.to_bytes())
    feed.apply_board(b"\x00reserved", b"{}")
    assert feed.board(KEY) == BOARD
    assert list(feed.boards) == [KEY]
    feed.apply_board(KEY.encode(), None)
    assert feed.board(KEY) is None


def test_a_player_on_the_board_sees_their_rank_and_no_one_elses_id():
    body = leaderboard_view(KEY, BOARD, "p-b", playing(70), limit=2)
    assert body == {
        "board": KEY,
        "size": 3,
        "top": [
            {"rank": 1, "score": 90, "you": False},
            {"rank": 2, "score": 70, "you": True},
        ],
        "you": {"rank": 2, "score": 70},
    }
    assert "p-a" not in repr(body)


def test_a_player_below_the_top_n_has_their_score_but_no_rank():
    body = leaderboard_view(KEY, BOARD, "p-z", playing(12), limit=20)
    assert [row["rank"] for row in body["top"]] == [1, 2, 3]
    assert not any(row["you"] for row in body["top"])
    assert body["you"] == {"rank": None, "score": 12}


def test_a_board_nobody_scored_on_is_empty():
    body = leaderboard_view(KEY, None, "p-z", PlayerState.from_bytes(None), limit=20)
    assert body == {"board": KEY, "size": None, "top": [], "you": {"rank": None, "score": 0}}


def test_a_player_below_the_top_n_gets_their_rank_among_every_score():
    feed = PlayerFeed(4, ERASURE_KEY, "UTC", 10)
    for player, total, at in [("p-a", 90, 1), ("p-b", 70, 2), ("p-c", 40, 3), ("p-z", 12, 4)]:
        feed.ranks.apply(*encode_score(KEY, player, total, at, 3))
    feed.ranks.apply(*encode_score(KEY, "p-y", 12, 3, 3))  # the same total, reached earlier
    feed.ranks.apply(*encode_score(KEY, "p-z", 11, 9, 3))  # re-delivered lower: no change
    ranked = feed.ranks.rank(KEY, "p-z")
    assert ranked == 5
    body = leaderboard_view(KEY, BOARD, "p-z", playing(12), limit=20, ranked=ranked)
    assert body["you"] == {"rank": 5, "score": 12}
    assert not any(row["you"] for row in body["top"])
    # on the board, the board's own row decides
    assert leaderboard_view(KEY, BOARD, "p-b", playing(70), 20, ranked=9)["you"]["rank"] == 2


def test_a_rank_rises_with_a_new_total_and_goes_with_an_erasure_or_the_boards_end():
    feed = PlayerFeed(4, ERASURE_KEY, "UTC", 10)
    for player, total in [("p-a", 90), ("p-b", 70), ("p-z", 12)]:
        feed.ranks.apply(*encode_score(KEY, player, total, 1, 3))
    feed.ranks.apply(*encode_score(KEY, "p-z", 80, 5, 3))
    assert feed.ranks.rank(KEY, "p-z") == 2
    feed.ranks.apply(*encode_erasure("p-a"))
    assert (feed.ranks.rank(KEY, "p-z"), feed.ranks.rank(KEY, "p-a")) == (1, None)
    feed.ranks.apply(KEY.encode(), b"not json")  # passed over, nothing else changes
    assert feed.ranks.rank(KEY, "p-b") == 2
    feed.apply_board(KEY.encode(), BOARD.to_bytes())
    feed.apply_board(KEY.encode(), None)  # the period swept
    assert feed.ranks.rank(KEY, "p-z") is None
