"""Every player's rank on every live board, from the leaderboard-scores topic, for a player
below a board's top N (the board on the changelog keeps only its top N).

Each score record is a player's new total on a board; a board's rankings keep every player's
best entry, ordered by the board's own ``Entry.rank_key``, so a rank here is the rank the
board would give with no N. Like the board, applying is idempotent and order-independent (a
re-delivered or lower total changes nothing). An erasure record takes the player off every
board; a board tombstoned on the changelog (its period swept) is dropped.

The topic keeps a week: ranks are exact for every board whose scores all lie within it
(daily and weekly boards while they run); on an older board, or one that never ends, a
player who has not scored for a week is not counted. Pure Python, no I/O.
"""

from __future__ import annotations

import bisect
import logging

from app.leaderboards.board import (
    ERASURE_KEY,
    BadScore,
    Entry,
    parse_erasure,
    parse_score,
)

log = logging.getLogger(__name__)

RankKey = tuple[int, int, str]


class Rankings:
    """Per board key: each player's best rank key, and all of them sorted."""

    def __init__(self) -> None:
        self._best: dict[str, dict[str, RankKey]] = {}
        self._sorted: dict[str, list[RankKey]] = {}

    def rank(self, board: str, player_id: str) -> int | None:
        """The player's rank on ``board`` (1 is the best), None if they have no score on it."""
        mine = self._best.get(board, {}).get(player_id)
        if mine is None:
            return None
        return bisect.bisect_left(self._sorted[board], mine) + 1

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the scores topic (a malformed one is logged and passed over, as the
        leaderboards agent does)."""
        try:
            if key == ERASURE_KEY:
                self.erase(parse_erasure(value))
                return
            board, update = parse_score(key, value)
        except BadScore as exc:
            log.warning("a leaderboard score record is passed over: %s", exc)
            return
        new = Entry(update.player_id, update.total, update.event_time).rank_key()
        best = self._best.setdefault(board, {})
        ranked = self._sorted.setdefault(board, [])
        held = best.get(update.player_id)
        if held is not None:
            if held <= new:
                return
            del ranked[bisect.bisect_left(ranked, held)]
        best[update.player_id] = new
        bisect.insort(ranked, new)

    def erase(self, player_id: str) -> None:
        for board, best in self._best.items():
            held = best.pop(player_id, None)
            if held is not None:
                ranked = self._sorted[board]
                del ranked[bisect.bisect_left(ranked, held)]

    def drop(self, board: str) -> None:
        """Forget ``board`` (its period was swept from the changelog)."""
        self._best.pop(board, None)
        self._sorted.pop(board, None)
