"""The leaderboards agent: score records in, each touched board rewritten once per batch.

Records arrive keyed by board, so the worker that owns a board's partition is the only
one that writes it. Per micro-batch: group the updates by (partition, board), read each
partition's boards in one multi-get, apply, and write only the boards that changed.
Importing this module registers the agent (``app.main`` imports it).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faust.types import StreamT

from app.leaderboards.board import (
    ERASURE_KEY,
    BadScore,
    ScoreUpdate,
    changed_boards,
    erased_from,
    expired,
    parse_erasure,
    parse_score,
)
from app.pipeline.ingest import partition_for
from app.streaming.consumer import fetches, lane
from app.streaming.faust_app import app, settings
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


leaderboard_totals = LeaderboardTotals()

#: {partition: {board key: [updates in arrival order]}}
Grouped = dict[int, dict[bytes, list[ScoreUpdate]]]


@app.agent(lane(app, scores_topic), name="pitboss.leaderboards")
async def leaderboards(stream: StreamT) -> None:
    async for records in fetches(stream):
        await process(records)


async def process(records: Sequence[Any]) -> None:
    grouped, erasures = group(records)
    for partition, boards in grouped.items():
        changed = changed_boards(leaderboards_table.get_many(partition, boards), boards)
        if changed:
            await leaderboards_table.put_many(partition, changed)
        leaderboard_totals.boards_written += len(changed)
        # counted once in the table: a reader that waits for the count sees the boards
        leaderboard_totals.updates += sum(len(updates) for updates in boards.values())
    for partition, players in erasures.items():
        # after the batch's scores: an erased player's last scores came before the erasure
        await erase(partition, players)
    leaderboard_totals.batches += 1


async def erase(partition: int, players: set[str]) -> None:
    """Take the players off every board this partition keeps."""
    keys = [
        key
        for key in list(leaderboards_table.keys())
        if partition_for(key.decode(), settings.partitions) == partition
    ]
    changed = erased_from(leaderboards_table.get_many(partition, keys), players)
    if changed:
        await leaderboards_table.put_many(partition, changed)
    leaderboard_totals.boards_erased_from += len(changed)
    log.info("took %d erased player(s) off %d board(s)", len(players), len(changed))


def group(records: Sequence[Any]) -> tuple[Grouped, dict[int, set[str]]]:
    """Updates by the partition they arrived on and their board, and the players to erase
    per partition; bad records skipped.

    The arrival partition is the one this worker owns for the table too (source topic
    and table are co-partitioned), and the key's default partition, which the view reads.
    """
    grouped: Grouped = defaultdict(lambda: defaultdict(list))
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
        grouped[message.partition][message.key].append(update)
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


@app.timer(interval=settings.leaderboard_sweep_interval)
async def expire_boards() -> None:
    """Delete the boards of days and weeks that ended more than the retention ago, on the
    partitions this worker owns: without it the table grows by a board per game and day."""
    today = datetime.now(UTC).date()
    owned = {
        tp.partition
        for tp in app.consumer.assignment()
        if tp.topic == scores_topic.get_topic_name()
    }
    doomed: Grouped = defaultdict(dict)
    for key in list(leaderboards_table.keys()):
        board = key.decode()
        partition = partition_for(board, settings.partitions)
        if partition in owned and expired(board, today, settings.leaderboard_retention_days):
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
