"""The batch's leaderboard records: one per board and player, the last total."""

from __future__ import annotations

from app.leaderboards.board import ScoreUpdate, apply
from app.pipeline.plan import last_scores


def test_last_scores_keep_each_players_last_total_per_board_in_order():
    scores = [
        ("daily:a", "p-1", 10, 1_000, 10),
        ("daily:a", "p-2", 5, 1_100, 10),
        ("weekly:b", "p-1", 10, 1_000, 10),
        ("daily:a", "p-1", 25, 1_200, 10),
    ]
    assert last_scores(scores) == [
        ("daily:a", "p-2", 5, 1_100, 10),
        ("weekly:b", "p-1", 10, 1_000, 10),
        ("daily:a", "p-1", 25, 1_200, 10),
    ]


def test_a_board_fed_the_last_scores_equals_one_fed_every_score():
    totals = [("p-1", 5), ("p-2", 5), ("p-1", 9), ("p-3", 7), ("p-2", 12), ("p-3", 9), ("p-4", 1)]
    scores = [("b", p, total, t, 3) for t, (p, total) in enumerate(totals)]

    def board(rows: list) -> bytes:
        return apply(None, [ScoreUpdate(p, total, t, top) for _k, p, total, t, top in rows])

    assert len(last_scores(scores)) == 4
    assert board(last_scores(scores)) == board(scores)
