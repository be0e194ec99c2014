"""Leaderboards as pure values: a board's top N, and the score records that update it.

Players are partitioned by player id but a board is global, so the decide agent publishes
each new total to the internal leaderboard-scores topic keyed by board; whoever owns the
key's partition keeps the board. Only the top N are stored, and that is exact: a player's
total on a board only ever rises within its period, so each player's rank key only ever
improves, and the top N of the improved keys is always among the old top N plus the
players just updated. Applying updates is therefore idempotent and order-independent
(a re-delivered or late, lower total changes nothing), which makes re-delivery safe.

Pure: no Faust, Kafka or I/O, so the agent, the views and the tests share it.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

import orjson


class BoardKey(NamedTuple):
    """What a board key names: the ruleset's board, the game (``ALL`` for a board over every
    game) and the player-local period (``2026-11-22``, ``2026-W47`` or ``ever``)."""

    board_id: str
    game: str
    period: str


def board_key(board_id: str, game: str, period: str) -> str:
    """The one way a board's key is made, e.g. ``points-per-game-daily:BLACKJACK:2026-11-22``:
    the engine keys score records with it, the table stores the board under it."""
    return f"{board_id}:{game}:{period}"


def parse_board_key(key: str) -> BoardKey:
    """The parts of a ``board_key``; ``ValueError`` for anything that is not one."""
    parts = key.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a board key (board:game:period): {key!r}")
    return BoardKey(*parts)


class BadScore(ValueError):
    """A score record that cannot be decoded; the agent logs, counts and skips it."""


class Entry(NamedTuple):
    """One row of a board: a player, their total and when they first reached it."""

    player_id: str
    total: int
    event_time: int

    def rank_key(self) -> tuple[int, int, str]:
        """Higher total first; on a tie whoever reached it first; then player id, so
        every worker and every replay orders a board the same way."""
        return (-self.total, self.event_time, self.player_id)


class ScoreUpdate(NamedTuple):
    """A player's new total on one board, and the board's size N at the time."""

    player_id: str
    total: int
    event_time: int
    top: int


@dataclass(frozen=True, slots=True)
class Board:
    """A board's top ``top`` entries, best first; ``final`` once a tournament's board is
    finalised (its prizes published): it never changes again."""

    top: int
    entries: tuple[Entry, ...] = ()
    final: bool = False

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> Board | None:
        """The stored board, or None for a board never written."""
        if raw is None:
            return None
        data = orjson.loads(raw)
        return cls(data["n"], tuple(Entry(*row) for row in data["r"]), bool(data.get("f")))

    def to_bytes(self) -> bytes:
        # rows as arrays, not objects: a board is rewritten (and changelogged) per batch
        doc: dict[str, object] = {"n": self.top, "r": [list(e) for e in self.entries]}
        if self.final:
            doc["f"] = 1
        return orjson.dumps(doc)

    def finalised(self) -> Board:
        return Board(self.top, self.entries, final=True)

    def updated(self, updates: Iterable[ScoreUpdate]) -> Board:
        """This board with ``updates`` applied; N is the latest update's ``top``. A final
        board ignores them: a score arriving after its tournament closed is too late.

        Exact while N stays the same or shrinks. If N grows mid-period, players evicted
        earlier come back only when they next score (the board cannot know them).
        """
        if self.final:
            return self
        best: dict[str, Entry] = {e.player_id: e for e in self.entries}
        top = self.top
        for update in updates:
            top = update.top
            entry = Entry(update.player_id, update.total, update.event_time)
            held = best.get(entry.player_id)
            if held is None or entry.rank_key() < held.rank_key():
                best[entry.player_id] = entry
        return Board(top, tuple(heapq.nsmallest(top, best.values(), key=Entry.rank_key)))

    def without(self, player_ids: Collection[str]) -> Board:
        """This board without the players (erased): the rest move up; the place they leave
        at the bottom fills when someone below the top N next scores."""
        kept = tuple(e for e in self.entries if e.player_id not in player_ids)
        return Board(self.top, kept, self.final)


def apply(board: bytes | None, updates: Iterable[ScoreUpdate]) -> bytes:
    """The stored board ``board`` (None: a new board) with ``updates`` applied, serialized."""
    updates = list(updates)
    if not updates and board is not None:
        return board
    current = Board.from_bytes(board)
    if current is None:
        current = Board(updates[0].top if updates else 0)
    return current.updated(updates).to_bytes()


#: The reserved per-partition keys of the leaderboards table, beside the boards (a NUL byte
#: first: no board key starts with one). The partition's event time: the newest event time
#: of its score records, in record order ...
WATERMARK = b"\x00watermark"
#: ... and {board key: closes at} for its open tournament boards (:func:`walk`).
CLOSING = b"\x00closing"


def is_board(key: bytes) -> bool:
    """Whether a key of the leaderboards table is a board's (not a reserved key)."""
    return not key.startswith(b"\x00")


class Walk(NamedTuple):
    """What a partition's score records do, walked in record order (:func:`walk`)."""

    #: {board key: the updates that count}, to apply with :func:`changed_boards`
    updates: dict[bytes, list[ScoreUpdate]]
    #: the boards whose closing time the partition's event time passed, in closing order
    closed: list[bytes]
    #: the open boards' closing times after the walk, and the partition's event time
    closing: dict[bytes, int]
    watermark: int
    #: updates dropped: their board had closed before they came
    late: int


def walk(
    records: Iterable[tuple[bytes, ScoreUpdate]],
    watermark: int,
    closing: Mapping[bytes, int],
    closes_at: Callable[[bytes], int | None],
) -> Walk:
    """Walk one partition's score records in record order, closing a board (a tournament's:
    ``closes_at`` gives when, None for any other) as soon as the partition's event time
    reaches its closing time. A board's counted updates are then exactly those that came
    before that point of the partition's sequence, however the sequence was cut into
    batches; an update for a board already closed is dropped (too late).

    ``watermark`` and ``closing`` are the partition's event time and open boards before the
    records (the reserved keys :data:`WATERMARK` and :data:`CLOSING`).
    """
    open_boards = dict(closing)
    updates: dict[bytes, list[ScoreUpdate]] = defaultdict(list)
    closed: list[bytes] = []
    late = 0
    for key, update in records:
        if key not in open_boards:
            due = closes_at(key)
            if due is not None and due <= watermark:
                late += 1
                continue
            if due is not None:
                open_boards[key] = due
        updates[key].append(update)
        if update.event_time > watermark:
            watermark = update.event_time
            now_due = sorted((due, k) for k, due in open_boards.items() if due <= watermark)
            for _, k in now_due:
                del open_boards[k]
                closed.append(k)
    return Walk(dict(updates), closed, open_boards, watermark, late)


def overdue(closing: Mapping[bytes, int], now_ms: int, allowance_ms: int) -> list[bytes]:
    """The open boards of ``closing`` that the wall clock ``now_ms`` is past the closing
    time of by ``allowance_ms`` or more: the fallback for a partition whose event time
    stopped (no score record came), so a quiet board still closes."""
    return sorted(key for key, due in closing.items() if due + allowance_ms <= now_ms)


def encode_closing(closing: Mapping[bytes, int]) -> bytes:
    """The stored value of :data:`CLOSING`."""
    return orjson.dumps({key.decode(): due for key, due in sorted(closing.items())})


def parse_closing(raw: bytes) -> dict[bytes, int]:
    """The open boards' closing times from the stored value of :data:`CLOSING`."""
    return {key.encode(): due for key, due in orjson.loads(raw).items()}


def changed_boards(
    stored: Mapping[bytes, bytes], updates: Mapping[bytes, Iterable[ScoreUpdate]]
) -> dict[bytes, bytes]:
    """The boards that ``updates`` (by board key) change, rewritten; ``stored`` holds the
    boards as they are (a key missing: a new board). An update that makes no difference
    is left out, so it costs no write and no changelog record."""
    changed = {}
    for key, board_updates in updates.items():
        old = stored.get(key)
        new = apply(old, board_updates)
        if new != old:
            changed[key] = new
    return changed


def erased_from(stored: Mapping[bytes, bytes], player_ids: Collection[str]) -> dict[bytes, bytes]:
    """The boards of ``stored`` that list any of the players, rewritten without them."""
    changed = {}
    for key, raw in stored.items():
        board = Board.from_bytes(raw)
        if board is not None and any(e.player_id in player_ids for e in board.entries):
            changed[key] = board.without(player_ids).to_bytes()
    return changed


# -- the leaderboard-scores topic --------------------------------------------------------

#: The key of an erasure record on the scores topic (no board key starts with a NUL).
ERASURE_KEY = b"\x00erase"


def encode_erasure(player_id: str) -> tuple[bytes, bytes]:
    """(key, value) of the record that takes an erased player off every board of the
    partition it is sent to (``pitboss forget``; the decide agent sends one per partition)."""
    return ERASURE_KEY, orjson.dumps({"erase": player_id})


def parse_erasure(value: bytes | None) -> str:
    """The player id of an erasure record; :class:`BadScore` if it is malformed."""
    try:
        player_id = orjson.loads(value or b"").get("erase")
    except (orjson.JSONDecodeError, AttributeError) as exc:
        raise BadScore(f"undecodable erasure: {exc}") from exc
    if not (isinstance(player_id, str) and player_id):
        raise BadScore(f"an erasure without a player id: {value!r:.80}")
    return player_id


def score_record(player_id: str, total: int, event_time: int, top: int) -> dict[str, object]:
    """The JSON value of a score record, the one shape both agents agree on."""
    return {"player_id": player_id, "total": total, "event_time": event_time, "top": top}


def encode_score(
    key: str, player_id: str, total: int, event_time: int, top: int
) -> tuple[bytes, bytes]:
    """(key, value) of a score record: the key is the board, so Kafka's default
    partitioner sends every update of a board to the one worker that keeps it."""
    return key.encode(), orjson.dumps(score_record(player_id, total, event_time, top))


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_score(key: bytes | None, value: bytes | None) -> tuple[str, ScoreUpdate]:
    """(board key, update) from a score record; :class:`BadScore` if it is malformed."""
    if not key:
        raise BadScore("no board key")
    try:
        board = key.decode()
        data = orjson.loads(value or b"")
    except (UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        raise BadScore(f"undecodable: {exc}") from exc
    if not isinstance(data, dict):
        raise BadScore(f"not a JSON object: {data!r:.80}")
    player_id = data.get("player_id")
    total, event_time, top = data.get("total"), data.get("event_time"), data.get("top")
    if not (isinstance(player_id, str) and player_id):
        raise BadScore(f"no player_id: {data!r:.200}")
    if not (_whole(total) and _whole(event_time) and _whole(top) and top > 0):
        raise BadScore(f"total, event_time and top (> 0) must be whole numbers: {data!r:.200}")
    return board, ScoreUpdate(player_id, total, event_time, top)


def period_end(key: str) -> date | None:
    """The last calendar day of a board's period, from its key (``…:2026-11-22`` or
    ``…:2026-W47``); None for ``ever`` and anything else, which never expires."""
    try:
        period = parse_board_key(key).period
        if "-W" in period:
            year, week = period.split("-W")
            return date.fromisocalendar(int(year), int(week), 7)
        return date.fromisoformat(period)
    except ValueError:
        return None


def expired(key: str, today: date, retention_days: int) -> bool:
    """Whether a board's period ended more than ``retention_days`` before ``today``. The
    day is a calendar day and players' days run in their own zones, so a day of slack
    keeps every zone's last scores (a board is never written after its period)."""
    end = period_end(key)
    return end is not None and (today - end).days > retention_days + 1


def final_and_over(board: Board | None, today: date, retention_days: int) -> bool:
    """Whether a finalised board whose key names no period (a one-off tournament's) was last
    reached more than ``retention_days`` before ``today``: the sweep deletes it then, as a
    day's board, so no board naming players is kept for ever."""
    if board is None or not board.final:
        return False
    newest = max((e.event_time for e in board.entries), default=0)
    reached = datetime.fromtimestamp(newest / 1000, UTC).date()
    return (today - reached).days > retention_days + 1
