"""A leaderboard as the player sees it: the top rows from the board the leaderboards agent
wrote to its changelog (ranks and scores, never another player's id), and their own rank and
score."""

from __future__ import annotations

from app.core.state import PlayerState
from app.gateway.feed import PlayerFeed
from app.gateway.view import leaderboard_view
from app.leaderboards.board import Board, Entry
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
