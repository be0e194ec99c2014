"""The archive follower: the journal, rewards, cool-downs, the rewards' fulfilment steps
(``reward-lifecycle``), the access log and the players' pseudonyms (from ``player-keys``)
into PostgreSQL, in batches.

It runs in its own process (``pitboss archive``) as its own consumer group,
``<app id>-archive``, so PostgreSQL never shares an event loop, a CPU or a consumer group
with the decide agent: a slow or absent database cannot delay a decision. Offsets are
committed only after a batch's transaction has committed, so delivery is at least once and
the idempotent inserts turn that into exactly one row per id.

While PostgreSQL is down the follower holds the batch in hand, polls nothing more and
commits nothing, retrying with a growing pause; once a write succeeds it commits and goes
on where it was. A crash at any point loses nothing: the records are delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import TypeVar

import psycopg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from app.archive.migrate import migrate
from app.archive.store import (
    Batch,
    Origin,
    Written,
    check_schema_name,
    connect,
    location,
    write,
)
from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.contract.registry import SchemaRegistryError
from app.experiments.outcomes import OutcomeCodec
from app.security import kafka_clients
from app.security.erasure_key import erasure_key
from app.settings import Settings
from app.streaming.pacing import start_paced

log = logging.getLogger(__name__)

T = TypeVar("T")
Polled = dict[TopicPartition, list[ConsumerRecord]]

#: Pauses between attempts while PostgreSQL (or the registry) is unreachable, in seconds.
FIRST_RETRY = 1.0
LONGEST_RETRY = 30.0
#: The follower stops polling on purpose while PostgreSQL is down; without this aiokafka
#: would leave the group after 5 minutes (harmless, as nothing was committed, but noisy).
MAX_POLL_INTERVAL_MS = 24 * 3600 * 1000
REPORT_EVERY = 10.0


@dataclass(slots=True)
class ArchiveTotals:
    """Running counts for the follower's log lines."""

    records: int = 0
    new: int = 0
    duplicates: int = 0
    erased_dropped: int = 0
    erasures: int = 0
    undecodable: int = 0
    batches: int = 0
    outages: int = 0


class Rewind(ConsumerRebalanceListener):
    """``--from-beginning``: read each partition once from its start, whatever the group
    had committed (a rebuild or an audit; rows already archived stay single)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.rewound: set[TopicPartition] = set()

    async def on_partitions_revoked(self, _revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        fresh = assigned - self.rewound
        if fresh:
            await self.consumer.seek_to_beginning(*fresh)
            self.rewound |= fresh
            log.info("archive re-reading %d partitions from their beginning", len(fresh))


class Follower:
    """One archive process: a consumer of the archived topics and a PostgreSQL connection."""

    def __init__(self, settings: Settings, from_beginning: bool = False) -> None:
        if not settings.archive_url:
            raise ValueError("the archive is disabled: PITBOSS_ARCHIVE_URL is empty")
        self.settings = settings
        self.erasure_key = erasure_key(settings)
        self.url = settings.archive_url
        self.schema = check_schema_name(settings.archive_schema)
        self.where = location(self.url)
        self.group_id = f"{settings.app_id}-archive"
        self.from_beginning = from_beginning
        registry = settings.schema_registry_url or None
        topics = settings.topics
        self.kinds: dict[str, tuple[str, AvroCodec | None]] = {
            topics.journal: ("journal", AvroCodec("JournalEntry", registry_url=registry)),
            topics.rewards: ("rewards", AvroCodec("Reward", registry_url=registry)),
            topics.cooldowns: ("cooldowns", AvroCodec("CoolDown", registry_url=registry)),
            topics.access_log: ("access_log", AvroCodec("AccessLogEntry", registry_url=registry)),
            # raw: the key is the player id, the value the secret (a tombstone: erased)
            topics.player_keys: ("player_keys", None),
            topics.player_outcomes: ("outcomes", OutcomeCodec(registry_url=registry)),
            topics.reward_lifecycle: (
                "lifecycle",
                AvroCodec("RewardLifecycle", registry_url=registry),
            ),
        }
        self.totals = ArchiveTotals()
        self._conn: psycopg.AsyncConnection | None = None
        self._migrated = False
        self._reported = (time.monotonic(), 0)
        #: records read when the follower started or recovered; maxsize once caught up
        self._behind_at = 0

    def consumer(self) -> AIOKafkaConsumer:
        return kafka_clients.consumer(
            self.settings,
            group_id=self.group_id,
            # static membership, as for workers: a restarted archive takes its partitions back
            group_instance_id=self.settings.worker_id,
            client_id=f"{self.group_id}-{self.settings.worker_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A player's journal, rewards and cool-downs share a partition number; the range
            # assignor gives one member all three, so an erasure is never raced by a reward.
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=int(self.settings.session_timeout * 1000),
            heartbeat_interval_ms=int(self.settings.heartbeat_interval * 1000),
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        )

    async def run(self) -> None:
        """Follow the topics until cancelled (SIGTERM or Ctrl-C)."""
        consumer = self.consumer()
        await start_paced(consumer, pace=self.settings.pace_empty_fetches)
        try:
            listener = Rewind(consumer) if self.from_beginning else None
            consumer.subscribe(list(self.kinds), listener=listener)
            log.info(
                "archive following %s into PostgreSQL %s (schema %s) as consumer group %s",
                ", ".join(self.kinds),
                self.where,
                self.schema,
                self.group_id,
            )
            await self._try_connect()
            while True:
                polled = await consumer.getmany(
                    timeout_ms=1000, max_records=self.settings.batch_max
                )
                if polled:
                    await self.archive(consumer, polled)
                    self.report()
                elif self.totals.records > self._behind_at:
                    self.report(caught_up=True)
        finally:
            self.report(force=True)  # first: the awaits below may be cut short on shutdown
            await consumer.stop()
            await self._close()

    async def archive(self, consumer: AIOKafkaConsumer, polled: Polled) -> Written:
        """Write one poll's records, then commit their offsets (never before)."""
        held = sum(len(messages) for messages in polled.values())
        batch = await self._until_done(lambda: self._decode(polled), held)
        written = await self._until_done(lambda: self._write(batch), held)
        await self._commit(consumer, {tp: msgs[-1].offset + 1 for tp, msgs in polled.items()})
        t = self.totals
        t.batches += 1
        t.records += len(batch)
        t.new += written.new
        t.duplicates += written.duplicates
        t.erased_dropped += written.erased_dropped
        t.erasures += written.erasures
        if written.erasures:
            log.info(
                "archive erased the rows of %d player(s); the markers keep only a hash of the id",
                written.erasures,
            )
        return written

    async def _decode(self, polled: Polled) -> Batch:
        batch = Batch()
        for tp, messages in polled.items():
            kind, codec = self.kinds[tp.topic]
            into = getattr(batch, kind)
            for m in messages:
                if codec is None:
                    into.append((m.key.decode(errors="replace") if m.key else "", m.value))
                    continue
                try:
                    if m.value is None:
                        raise DecodeError("UNDECODABLE", "a tombstone (no value)")
                    into.append((codec.decode(m.value), Origin(tp.topic, tp.partition, m.offset)))
                except DecodeError as exc:
                    # A bug upstream, not an outage: waiting would not fix it, so skip it loudly.
                    self.totals.undecodable += 1
                    log.error(
                        "archive skipped %s partition %d offset %d: not a %s record (%s)",
                        tp.topic,
                        tp.partition,
                        m.offset,
                        kind,
                        exc,
                    )
        return batch

    async def _write(self, batch: Batch) -> Written:
        return await write(await self._connection(), batch, self.erasure_key)

    async def _until_done(self, step: Callable[[], Awaitable[T]], held: int) -> T:
        """Run ``step`` until it succeeds, pausing longer each time PostgreSQL (or the
        schema registry) fails; nothing is polled or committed meanwhile."""
        pause, attempts, down_since = FIRST_RETRY, 0, None
        while True:
            try:
                result = await step()
            except (psycopg.Error, OSError, SchemaRegistryError) as exc:
                await self._close()
                attempts += 1
                if down_since is None:
                    down_since = time.monotonic()
                    self.totals.outages += 1
                level, message, args = _failure(exc, self.where)
                log.log(level, message + _HELD, *args, held, attempts, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_RETRY)
                continue
            if down_since is not None:
                self._behind_at = self.totals.records
                log.info(
                    "archive reached PostgreSQL at %s again after %.0f s and %d failed attempts; "
                    "the %d held records are written, catching up",
                    self.where,
                    time.monotonic() - down_since,
                    attempts,
                    held,
                )
            return result

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        owned = consumer.assignment()
        mine = {tp: offset for tp, offset in offsets.items() if tp in owned}
        if not mine:
            return
        try:
            await consumer.commit(mine)
        except KafkaError as exc:
            # The rows are in; the records will simply be delivered again and found there.
            log.warning("archive could not commit its offsets (%s); they will be re-read", exc)

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            conn = await connect(self.url, self.schema)
            if not self._migrated:
                try:
                    await migrate(conn, self.schema)
                except BaseException:
                    await conn.close()
                    raise
                self._migrated = True
            self._conn = conn
        return self._conn

    async def _try_connect(self) -> None:
        """Connect and migrate at start when PostgreSQL is there; else the first batch waits."""
        try:
            await self._connection()
        except (psycopg.Error, OSError) as exc:
            log.warning(
                "archive cannot reach PostgreSQL at %s yet (%s); records will wait for it",
                self.where,
                _first_line(exc),
            )

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

    def report(self, force: bool = False, caught_up: bool = False) -> None:
        """Say in a log line what the archive did: every ``REPORT_EVERY`` seconds while it
        works, and once when it has caught up after a start, a rebuild or an outage."""
        now = time.monotonic()
        at, records = self._reported
        t = self.totals
        if caught_up:
            self._behind_at = sys.maxsize
        elif t.records == records or (now - at < REPORT_EVERY and not force):
            return
        log.info(
            "archive %s; in total: %s",
            "caught up with the topics" if caught_up else f"read {t.records - records:,} records",
            ", ".join(f"{f.name.replace('_', ' ')} {getattr(t, f.name):,}" for f in fields(t)),
        )
        self._reported = (now, t.records)


_HELD = (
    "; holding %d records with their offsets uncommitted, attempt %d failed, trying again in %.0f s"
)


def _failure(exc: BaseException, where: str) -> tuple[int, str, tuple[str, ...]]:
    """Log level, message and its arguments for a failed attempt: an outage is a warning;
    a batch that PostgreSQL refuses is an error, since waiting alone will not fix it."""
    if isinstance(exc, SchemaRegistryError):
        return logging.WARNING, "archive cannot reach the schema registry (%s)", (str(exc),)
    if isinstance(exc, psycopg.OperationalError | OSError):
        return (
            logging.WARNING,
            "archive cannot reach PostgreSQL at %s (%s)",
            (where, _first_line(exc)),
        )
    reason = f"{type(exc).__name__}: {_first_line(exc)}"
    return logging.ERROR, "PostgreSQL at %s refused the archive's batch (%s)", (where, reason)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
