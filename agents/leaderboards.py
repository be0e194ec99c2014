"""The leaderboards agent: score records in, each touched board rewritten once per batch.

Records arrive keyed by board, so the worker that owns a board's partition is the only
one that writes it. Per micro-batch and partition: walk the updates in record order
(``walk``: the partition's event time closes a tournament's board once it passes the end
plus grace), read the boards in one multi-get, apply, finalise the boards that closed, and
write only what changed. A quiet partition's overdue boards close by the wall clock
(``finish_quiet_tournaments``). Importing this module registers the agent (``app.main`` imports it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson
from faust.types import StreamT

from agents.decide import codecs, live, registry_url
from app.contract.codec import AvroCodec
from app.core.tournaments import Tournament, closes_at, finalise, of_board
from app.leaderboards.board import (
    CLOSING,
    ERASURE_KEY,
    WATERMARK,
    BadScore,
    Board,
    ScoreUpdate,
    changed_boards,
    encode_closing,
    erased_from,
    expired,
    final_and_over,
    is_board,
    overdue,
    parse_closing,
    parse_erasure,
    parse_score,
    period_end,
    walk,
)
from app.pipeline.ingest import partition_for
from app.streaming.consumer import fetches, lane
from app.streaming.faust_app import app, settings
from app.streaming.outbox import Outbox
from tables.leaderboards import leaderboards_table

log = logging.getLogger(__name__)

scores_topic = app.topic(
    settings.topics.leaderboard_scores,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)


@dataclass(slots=True)
class LeaderboardTotals:
    """Running counts for the stats view and the bad-record warnings."""

    updates: int = 0
    boards_written: int = 0
    bad_records: int = 0
    boards_expired: int = 0
    #: boards rewritten without an erased player (``pitboss forget``)
    boards_erased_from: int = 0
    batches: int = 0
    #: tournament occurrences finalised here, and the prizes they published
    tournaments_finished: int = 0
    prizes: int = 0
    #: scores for a tournament board that had closed (by its partition's event time)
    late_scores: int = 0


leaderboard_totals = LeaderboardTotals()

prize_codec = AvroCodec("TournamentPrize", registry_url=registry_url)

#: {partition: [(board key, update) in record order]}
Grouped = dict[int, list[tuple[bytes, ScoreUpdate]]]

#: {partition: monotonic time of its last score record here}: a partition quiet for the
#: idle allowance has its overdue tournaments closed by the wall clock
last_seen: dict[int, float] = {}
STARTED = time.monotonic()


@app.agent(lane(app, scores_topic), name="pitboss.leaderboards")
async def leaderboards(stream: StreamT) -> None:
    async for records in fetches(stream):
        await process(records)


#: Held while boards are read and rewritten: a batch's write must not undo a finalisation
#: that happened between its read and its write (a final board would become open again).
boards_lock = asyncio.Lock()


async def process(records: Sequence[Any]) -> None:
    async with boards_lock:
        await apply_batch(records)


def running() -> dict[str, Tournament]:
    """The tournaments of the ruleset in force, by id."""
    return {t.tournament_id: t for t in live.current().ruleset.tournaments}


async def apply_batch(records: Sequence[Any]) -> None:
    grouped, erasures = group(records)
    tournaments = running()
    now = int(time.time() * 1000)
    for partition, sequence in grouped.items():
        last_seen[partition] = time.monotonic()
        reserved = leaderboards_table.get_many(partition, [WATERMARK, CLOSING])
        watermark = orjson.loads(reserved.get(WATERMARK, b"0"))
        closing = (
            parse_closing(reserved[CLOSING])
            if CLOSING in reserved
            else open_tournament_boards(partition, tournaments)
        )
        walked = walk(sequence, watermark, closing, partial(closes_at, tournaments))
        stored_boards = leaderboards_table.get_many(partition, {*walked.updates, *walked.closed})
        writes: dict[bytes, bytes | None] = dict(changed_boards(stored_boards, walked.updates))
        for key in walked.closed:
            board = Board.from_bytes(writes.get(key, stored_boards.get(key)))
            found = of_board(tournaments, key.decode())
            if board is not None and not board.final and found is not None:
                await publish(board, *found, now)
                writes[key] = board.finalised().to_bytes()
        # the boards first, the partition's time last: a crash in between re-applies
        if walked.closing != closing or CLOSING not in reserved:
            writes[CLOSING] = encode_closing(walked.closing)
        if walked.watermark != watermark:
            writes[WATERMARK] = orjson.dumps(walked.watermark)
        if writes:
            await leaderboards_table.put_many(partition, writes)
        leaderboard_totals.boards_written += sum(1 for key in writes if is_board(key))
        leaderboard_totals.late_scores += walked.late
        # counted once in the table: a reader that waits for the count sees the boards
        leaderboard_totals.updates += len(sequence)
    for partition, players in erasures.items():
        # after the batch's scores: an erased player's last scores came before the erasure
        await erase(partition, players)
    leaderboard_totals.batches += 1


def partition_boards(partition: int) -> list[bytes]:
    """The keys of the boards this worker keeps on ``partition`` (reserved keys left out)."""
    return [
        key
        for key in list(leaderboards_table.keys())
        if is_board(key) and partition_for(key.decode(), settings.partitions) == partition
    ]


def open_tournament_boards(partition: int, tournaments: dict[str, Tournament]) -> dict[bytes, int]:
    """The closing times of the partition's open tournament boards, found by a scan: the
    first batch on a partition whose boards were written before the index was kept."""
    keys = partition_boards(partition)
    boards = leaderboards_table.get_many(partition, keys)
    return {
        key: due
        for key in keys
        if (due := closes_at(tournaments, key)) is not None
        and (board := Board.from_bytes(boards.get(key))) is not None
        and not board.final
    }


async def erase(partition: int, players: set[str]) -> None:
    """Take the players off every board this partition keeps."""
    keys = partition_boards(partition)
    changed = erased_from(leaderboards_table.get_many(partition, keys), players)
    if changed:
        await leaderboards_table.put_many(partition, changed)
    leaderboard_totals.boards_erased_from += len(changed)
    log.info("took %d erased player(s) off %d board(s)", len(players), len(changed))


def group(records: Sequence[Any]) -> tuple[Grouped, dict[int, set[str]]]:
    """Updates by the partition they arrived on, in record order, and the players to erase
    per partition; bad records skipped.

    The arrival partition is the one this worker owns for the table too (source topic
    and table are co-partitioned), and the key's default partition, which the view reads.
    """
    grouped: Grouped = defaultdict(list)
    erasures: dict[int, set[str]] = defaultdict(set)
    bad: list[str] = []
    for message in records:
        try:
            if message.key == ERASURE_KEY:
                erasures[message.partition].add(parse_erasure(message.value))
                continue
            _, update = parse_score(message.key, message.value)
        except BadScore as exc:
            bad.append(f"{message.topic}[{message.partition}]@{message.offset}: {exc}")
            continue
        grouped[message.partition].append((message.key, update))
    if bad:
        # Internal records written only by us: a bad one is a bug to see, not to stop on.
        leaderboard_totals.bad_records += len(bad)
        log.warning(
            "skipped %d bad score record(s) (%d in all), first: %s",
            len(bad),
            leaderboard_totals.bad_records,
            bad[0],
        )
    return grouped, erasures


def owned_partitions() -> set[int]:
    """The scores topic's partitions assigned to this worker (so the boards it keeps)."""
    topic = scores_topic.get_topic_name()
    return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}


@app.timer(interval=settings.tournament_close_interval)
async def finish_quiet_tournaments() -> None:
    """The wall-clock fallback: close the tournament boards of a quiet partition (no score
    record for the idle allowance) once the wall clock passes their end + grace + the idle
    allowance. A busy partition's boards close by its event time instead (:func:`walk`), so
    a backfill of old play closes where the play says, not at the first tick."""
    tournaments = running()
    if not tournaments:
        return
    idle = settings.tournament_idle_seconds
    for partition in owned_partitions():
        if time.monotonic() - last_seen.get(partition, STARTED) < idle:
            continue
        async with boards_lock:
            await close_overdue(partition, tournaments, int(time.time() * 1000))


async def close_overdue(partition: int, tournaments: dict[str, Tournament], now: int) -> None:
    """Close the partition's open tournament boards that ``now`` (wall clock) is past the
    closing time of by more than the idle allowance: publish each one's prizes (to the
    winners' partitions, which pay them) and TOURNAMENT_FINISHED entry, then mark it final.
    A crash in between publishes the same prize ids again (each winner's partition decides
    a prize once); a board marked final is never paid again."""
    raw = leaderboards_table.get_many(partition, [CLOSING]).get(CLOSING)
    if raw is None:
        return  # no score record yet since the index was kept: the first batch makes it
    closing = parse_closing(raw)
    late = overdue(closing, now, int(settings.tournament_idle_seconds * 1000))
    if not late:
        return
    writes: dict[bytes, bytes | None] = {}
    for key in late:
        board = stored(partition, key)
        found = of_board(tournaments, key.decode())
        if board is not None and not board.final and found is not None:
            await publish(board, *found, now)
            writes[key] = board.finalised().to_bytes()
        del closing[key]
    writes[CLOSING] = encode_closing(closing)
    await leaderboards_table.put_many(partition, writes)


def stored(partition: int, key: bytes) -> Board | None:
    """The board this worker keeps under ``key`` (None: none)."""
    return Board.from_bytes(leaderboards_table.get_many(partition, [key]).get(key))


async def publish(board: Board, tournament: Tournament, occurrence: str, now: int) -> None:
    """Send the prize records and TOURNAMENT_FINISHED entry of a closing board (the caller
    marks it final after)."""
    finished = finalise(board, tournament, occurrence, now)
    box = Outbox(app)
    n = settings.partitions
    for prize in finished.prizes:
        box.add(
            settings.topics.tournament_prizes,
            n,
            prize["player_id"].encode(),
            prize_codec.encode(prize),
        )
    box.add(settings.topics.journal, n, None, codecs.journal.encode(finished.entry))
    await box.send()
    leaderboard_totals.tournaments_finished += 1
    leaderboard_totals.prizes += len(finished.prizes)
    log.info(
        "tournament %s %s finished: %d prize(s)",
        tournament.tournament_id,
        occurrence,
        len(finished.prizes),
    )


@app.timer(interval=settings.leaderboard_sweep_interval)
async def expire_boards() -> None:
    """Delete the boards of days and weeks that ended more than the retention ago, and the
    final boards of one-off tournaments last reached that long ago, on the partitions this
    worker owns: without it the table grows by a board per game and day, and a one-off
    tournament's board would name its players for ever."""
    today = datetime.now(UTC).date()
    owned = owned_partitions()
    days = settings.leaderboard_retention_days
    doomed: Grouped = defaultdict(dict)
    for key in list(leaderboards_table.keys()):
        if not is_board(key):
            continue
        board = key.decode()
        partition = partition_for(board, settings.partitions)
        if partition not in owned:
            continue
        if expired(board, today, days) or (
            period_end(board) is None and final_and_over(stored(partition, key), today, days)
        ):
            doomed[partition][key] = None
    for partition, boards in doomed.items():
        await leaderboards_table.put_many(partition, boards)
        leaderboard_totals.boards_expired += len(boards)
    if doomed:
        log.info(
            "deleted %d leaderboard board(s) whose period ended over %d days ago",
            sum(len(b) for b in doomed.values()),
            settings.leaderboard_retention_days,
        )
