"""Erasure of a player (GDPR's right to be forgotten), requested from outside the workers.

The request travels to the worker that owns the player, on the player's own partition of
the internal re-keyed topic, so it is applied in order with the player's events: that
worker tombstones the state and profile, journals a PLAYER_ERASED marker (by which
archives delete the history, and which names the requester), sends every leaderboard's
keeper the order to drop the player, deletes the player's secret (crypto-shredding: what the
kept-for-ever topics hold of them becomes unlinkable), and from then on decides nothing for
the id.

``survey`` says beforehand what there is to erase, from what the workers wrote (their
tables' changelogs) and the archive, so an operator sees it before confirming.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import psycopg
from aiokafka import ConsumerRecord, TopicPartition
from psycopg import sql

from app.archive import store
from app.core.ids import pseudonym
from app.leaderboards.board import Board, is_board
from app.operations.reading import read_to_end
from app.pipeline.ingest import FORGET_TYPE, RECORD_TYPE_HEADER, partition_for
from app.pipeline.keys import ERASED
from app.security import kafka_clients
from app.security.erasure_key import erasure_key
from app.settings import Settings

#: the archive tables that hold a player's rows, by player id
ARCHIVE_TABLES = ("journal", "rewards", "cooldowns", "access_log")


@dataclass
class Holdings:
    """What Pitboss holds about a player id, as far as the survey could see."""

    player_id: str
    has_state: bool = False
    has_profile: bool = False
    #: a secret on player-keys: records on the kept-for-ever topics name the player by it
    has_secret: bool = False
    #: the board keys that list the player
    boards: list[str] = field(default_factory=list)
    #: archive table -> rows of the player (empty: no archive, or it could not be read)
    archive_rows: dict[str, int] = field(default_factory=dict)
    #: why the archive was not surveyed, if it was not
    archive_note: str | None = None
    already_erased: bool = False

    @property
    def known(self) -> bool:
        """Whether Pitboss decided or holds anything for the id: access-log rows do not
        count (this very command's request is one)."""
        decided = any(n for table, n in self.archive_rows.items() if table != "access_log")
        return self.has_state or self.has_profile or self.has_secret or bool(self.boards) or decided

    def lines(self) -> list[str]:
        """The survey in words, one fact a line."""
        yes = {True: "yes", False: "no"}
        rows = ", ".join(f"{table} {n}" for table, n in self.archive_rows.items())
        return [
            f"player {self.player_id}: "
            + ("already erased" if self.already_erased else "known" if self.known else "unknown"),
            f"  state: {yes[self.has_state]}",
            f"  profile: {yes[self.has_profile]}",
            f"  secret (the journal and dead letters name the player by it): "
            f"{yes[self.has_secret]}",
            f"  leaderboards: {', '.join(self.boards) or 'none'}",
            f"  archive rows: {self.archive_note or rows}",
        ]


def changelog(settings: Settings, table: str) -> str:
    """The changelog topic Faust keeps for one of the worker's tables (tables/)."""
    return f"{settings.app_id}-{table}-changelog"


async def survey(settings: Settings, player_id: str, timeout_s: float = 30.0) -> Holdings:
    """What there is to erase: the worker tables' latest records and the archive's rows."""
    found = Holdings(player_id)
    key = player_id.encode()
    partition = partition_for(player_id, settings.partitions)
    marker = pseudonym(player_id, erasure_key(settings))
    state = changelog(settings, "player-state")
    profiles = changelog(settings, "player-profiles")
    secrets = settings.topics.player_keys
    latest: dict[tuple[str, bytes], bytes | None] = {}
    async for record in _records(settings, [state, profiles, secrets], [partition], timeout_s):
        if record.key in (key, ERASED):
            latest[record.topic, record.key] = record.value
    found.has_state = latest.get((state, key)) is not None
    found.has_profile = latest.get((profiles, key)) is not None
    found.has_secret = latest.get((secrets, key)) is not None
    found.already_erased = marker in orjson.loads(latest.get((state, ERASED)) or b"[]")
    boards: dict[bytes, bytes | None] = {}
    partitions = list(range(settings.partitions))
    async for record in _records(
        settings, [changelog(settings, "leaderboards")], partitions, timeout_s
    ):
        if record.key and is_board(record.key):  # not the keeper's reserved keys
            boards[record.key] = record.value
    for board_key, raw in sorted(boards.items()):
        board = Board.from_bytes(raw)
        if board is not None and any(e.player_id == player_id for e in board.entries):
            found.boards.append(board_key.decode(errors="replace"))
    await _survey_archive(settings, found)
    return found


async def _records(
    settings: Settings, topics: list[str], partitions: list[int], timeout_s: float
) -> AsyncIterator[ConsumerRecord]:
    consumer = kafka_clients.consumer(settings, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        existing = await consumer.topics()
        tps = [TopicPartition(t, p) for t in topics if t in existing for p in partitions]
        if tps:
            async for record in read_to_end(consumer, tps, timeout_s=timeout_s):
                yield record
    finally:
        await consumer.stop()


async def _survey_archive(settings: Settings, found: Holdings) -> None:
    if not settings.archive_url:
        found.archive_note = "no archive (PITBOSS_ARCHIVE_URL is empty)"
        return
    try:
        conn = await store.connect(settings.archive_url, settings.archive_schema, timeout=5)
    except (psycopg.Error, OSError) as exc:
        found.archive_note = f"not surveyed: {store.location(settings.archive_url)}: {exc}"
        return
    try:
        # by id, or by the pseudonym of their secret; an access-log entry also by marker (a
        # journal's marker row is an erasure that was, not a row to erase)
        marker = pseudonym(found.player_id, erasure_key(settings))
        for table in ARCHIVE_TABLES:
            cursor = await conn.execute(
                sql.SQL(
                    "SELECT count(*) FROM {} WHERE player_id = %(id)s"
                    " OR player_id IN (SELECT pseudonym FROM player_keys WHERE player_id = %(id)s)"
                    " OR (%(access)s AND player_id = %(marker)s)"
                ).format(sql.Identifier(table)),
                {"id": found.player_id, "marker": marker, "access": table == "access_log"},
            )
            (found.archive_rows[table],) = await cursor.fetchone()
    except psycopg.Error as exc:
        found.archive_note = f"not surveyed: {str(exc).splitlines()[0]}"
    finally:
        await conn.close()


async def request_erasure(settings: Settings, player_id: str, requested_by: str) -> int:
    """Send the erasure request and the profile tombstone; the partition it went to."""
    if not player_id.strip():
        raise ValueError("a player id is required")
    key = player_id.encode()
    partition = partition_for(player_id, settings.partitions)
    producer = kafka_clients.producer(settings, acks="all")
    await producer.start()
    try:
        # compaction then drops the profile from the CRM's topic too
        await producer.send_and_wait(settings.topics.player_profiles, key=key, value=None)
        request = {
            "player_id": player_id,
            "requested_at": int(time.time() * 1000),
            "by": requested_by,
        }
        await producer.send_and_wait(
            settings.topics.rekeyed,
            key=key,
            value=orjson.dumps(request),
            partition=partition,
            headers=[(RECORD_TYPE_HEADER, FORGET_TYPE)],
        )
    finally:
        await producer.stop()
    return partition
