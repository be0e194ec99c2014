"""Send simulated studio traffic to Kafka: live at a steady rate, or a fast preload.

Table events go to ``table-events`` and the players' account events (logins, deposits, KYC)
to ``account-events``, as a studio and the operator's platform would send them: keyed by
``player_id`` (table-level events by ``table_id``), Avro in the contract's single-object
encoding, the two interleaved in event time. Sends
are not awaited one by one: aiokafka batches them (``linger_ms``) and a done-callback counts
acknowledgements, so the rate is limited by encoding, not by round trips.

Topics must exist (``pitboss topics create``): a producer that sends to a missing topic
makes the local broker auto-create it with one partition, which breaks co-partitioning,
so we check first and refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from app.contract.codec import AvroCodec
from app.devtools.simulator.studio import (
    ACCOUNT_EVENT,
    TABLE_EVENT,
    StudioConfig,
    StudioSimulator,
    event_rate,
)
from app.operations.admin import AdminError, describe_topics
from app.security import kafka_clients
from app.settings import Settings

log = logging.getLogger(__name__)

#: Sends between yields to the event loop in fast mode, so the sender task keeps draining.
_CHUNK = 2000


@dataclass
class ProduceStats:
    """Running counts; ``sent`` is handed to the producer, ``acked`` confirmed by the broker."""

    tables: int = 0
    profiles: int = 0
    #: records handed over, account events included
    sent: int = 0
    #: of them, account events
    accounts: int = 0
    acked: int = 0
    failed: int = 0
    first_error: BaseException | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    #: latest occurred_at sent, for "event time vs wall clock" in the logs
    last_event_ms: int = 0

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Events sent per wall-clock second so far."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        """In words, e.g. ``produced 1,000 events (250/s) from 12 tables``."""
        text = f"produced {self.sent:,} events ({self.rate:,.0f}/s) from {self.tables} tables"
        if self.accounts:
            text += f", {self.accounts:,} of them account events"
        if self.acked != self.sent:
            text += f", {self.acked:,} acknowledged"
        if self.failed:
            text += f", {self.failed:,} FAILED (first error: {self.first_error!r})"
        return text

    def _on_delivery(self, fut: asyncio.Future, records: int = 1) -> None:
        if fut.cancelled():
            self.failed += records
            return
        exc = fut.exception()
        if exc is None:
            self.acked += records
        else:
            self.failed += records
            if self.first_error is None:
                self.first_error = exc


def event_key(event: dict) -> bytes:
    """The partitioning key: the player, or the table for table-level events (an account
    event always names its player)."""
    return (event["player_id"] or event["table_id"]).encode()


def make_producer(settings: Settings, *, fast: bool = False) -> AIOKafkaProducer:
    """A producer tuned for many small records: linger to batch them, bigger batches for
    preloads. Its default partitioner is Kafka's murmur2, the same as the worker's."""
    return kafka_clients.producer(
        settings,
        client_id=f"{settings.app_id}-simulator",
        acks=1,
        linger_ms=50 if fast else 2,
        max_batch_size=512 * 1024 if fast else 64 * 1024,
        request_timeout_ms=30_000,
    )


async def check_topics(settings: Settings, names: Iterable[str]) -> None:
    """Raise if a topic is missing, without asking for its metadata (that would create it)."""
    missing = [
        t.name
        for t in await describe_topics(settings, list(names), with_configs=False)
        if not t.exists
    ]
    if missing:
        raise AdminError(
            f"topic(s) {', '.join(missing)} do not exist: create them first "
            "(`pitboss topics create`); the simulator never auto-creates topics"
        )


async def produce_profiles(
    producer: AIOKafkaProducer,
    topic: str,
    profiles: Iterable[dict],
    stats: ProduceStats | None = None,
    codec: AvroCodec | None = None,
) -> int:
    """Send profiles keyed by ``player_id`` and wait until the broker has them all,
    so the worker can enrich the very first events."""
    codec = codec or AvroCodec("PlayerProfile")
    futures = []
    for profile in profiles:
        futures.append(
            await producer.send(topic, codec.encode(profile), key=profile["player_id"].encode())
        )
    await asyncio.gather(*futures)
    if stats is not None:
        stats.profiles += len(futures)
    return len(futures)


async def produce_events(
    producer: AIOKafkaProducer,
    topic: str,
    events: Iterable[dict],
    *,
    codec: AvroCodec | None = None,
    **pacing: Any,
) -> ProduceStats:
    """Send table ``events`` to ``topic``: ``produce_records`` with one kind of record."""
    codecs = {TABLE_EVENT: codec or AvroCodec(TABLE_EVENT)}
    records = ((TABLE_EVENT, event) for event in events)
    return await produce_records(producer, {TABLE_EVENT: topic}, records, codecs=codecs, **pacing)


async def produce_records(
    producer: AIOKafkaProducer,
    topics: Mapping[str, str],
    records: Iterable[tuple[str, dict]],
    *,
    count: int | None = None,
    rate: float | None = None,
    pace_by_event_time: bool = False,
    stats: ProduceStats | None = None,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[ProduceStats], None] | None = None,
    progress_every: float = 5.0,
    codecs: Mapping[str, AvroCodec] | None = None,
) -> ProduceStats:
    """Send ``records`` ((Avro record name, record) pairs, each to the topic ``topics`` names
    for its record) until ``count`` are sent, the iterable ends, or ``stop`` is set.

    Pacing: ``pace_by_event_time`` sends each record when the wall clock reaches its
    ``occurred_at`` (live runs, so latency measured from event time is real); otherwise
    ``rate`` records/s on a steady schedule; with neither, as fast as possible (filling
    record batches directly: the topics must exist, their partitions are looked up). Flushes
    before returning, also when cancelled, so nothing handed over is silently dropped.
    """
    codecs = dict(codecs or {})
    for name in topics:
        codecs.setdefault(name, AvroCodec(name))
    encoders = {name: codec.encode for name, codec in codecs.items()}
    stats = stats or ProduceStats()
    send = producer.send
    on_delivery = stats._on_delivery
    it: Iterator[tuple[str, dict]] = iter(records)
    loop = asyncio.get_running_loop()
    start = loop.time()
    next_report = start + progress_every
    limit = count if count is not None else float("inf")
    pending: tuple[str, dict] | None = None
    fast: dict[str, _BatchSender] | None = None
    if not rate and not pace_by_event_time:
        fast = {
            name: _BatchSender(producer, topic, await producer.partitions_for(topic), stats)
            for name, topic in topics.items()
        }
    try:
        while stats.sent < limit and not (stop and stop.is_set()):
            now = loop.time()
            if on_progress and now >= next_report:
                on_progress(stats)
                next_report = now + progress_every
            if pace_by_event_time:
                if pending is None:
                    pending = next(it, None)
                    if pending is None:
                        break
                wait = (pending[1]["occurred_at"] - time.time() * 1000) / 1000
                if wait > 0:
                    await _sleep(min(wait, 0.25), stop)
                    continue
                batch = [pending]
                pending = None
                # everything else already due goes out in the same pass
                wall_ms = time.time() * 1000
                while len(batch) < _CHUNK and stats.sent + len(batch) < limit:
                    pending = next(it, None)
                    if pending is None or pending[1]["occurred_at"] > wall_ms:
                        break
                    batch.append(pending)
                    pending = None
            else:
                if rate:
                    due = int((now - start) * rate) + 1 - stats.sent
                    if due <= 0:
                        await _sleep((stats.sent + 1) / rate - (now - start), stop)
                        continue
                    n = min(due, _CHUNK)
                else:
                    n = _CHUNK
                n = int(min(n, limit - stats.sent))
                batch = [r for _, r in zip(range(n), it, strict=False)]
                if not batch:
                    break
            if fast is not None:
                for name, sender in fast.items():
                    await sender.add([r for n, r in batch if n == name], encoders[name])
            else:
                for name, record in batch:
                    fut = await send(topics[name], encoders[name](record), key=event_key(record))
                    fut.add_done_callback(on_delivery)
            stats.accounts += sum(1 for name, _ in batch if name == ACCOUNT_EVENT)
            stats.sent += len(batch)
            stats.last_event_ms = batch[-1][1]["occurred_at"]
            if fast is not None:
                await asyncio.sleep(0)  # let the sender tasks drain batches
    finally:
        if fast is not None:
            for sender in fast.values():
                await asyncio.shield(sender.submit_all())
        await asyncio.shield(producer.flush())
        stats.finished = time.monotonic()
    return stats


class _BatchSender:
    """Fills one ``BatchBuilder`` per partition and submits it when full.

    About twice as fast as ``send()`` per record, which matters for preloads. Partitions
    come from aiokafka's ``DefaultPartitioner`` (Kafka's murmur2), so every key lands
    where ``send()`` and the worker would put it.
    """

    def __init__(
        self, producer: AIOKafkaProducer, topic: str, partitions: list[int], stats: ProduceStats
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._partitions = sorted(partitions)
        self._stats = stats
        self._builders: dict[int, Any] = {}
        self._partition_of: dict[bytes, int] = {}  # murmur2 is pure Python: cache per key
        self._partitioner = DefaultPartitioner()

    async def add(self, events: list[dict], encode: Callable[[dict], bytes]) -> None:
        builders, partition_of = self._builders, self._partition_of
        for event in events:
            key = event_key(event)
            partition = partition_of.get(key)
            if partition is None:
                partition = self._partitioner(key, self._partitions, self._partitions)
                partition_of[key] = partition
            value = encode(event)
            builder = builders.get(partition)
            if builder is None:
                builder = builders[partition] = self._producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None) is None:
                await self._submit(partition, builder)
                builder = builders[partition] = self._producer.create_batch()
                builder.append(key=key, value=value, timestamp=None)

    async def submit_all(self) -> None:
        for partition, builder in list(self._builders.items()):
            if builder.record_count():
                await self._submit(partition, builder)
        self._builders.clear()

    async def _submit(self, partition: int, builder: Any) -> None:
        n = builder.record_count()
        fut = await self._producer.send_batch(builder, self._topic, partition=partition)
        fut.add_done_callback(lambda f: self._stats._on_delivery(f, n))


async def _sleep(seconds: float, stop: asyncio.Event | None) -> None:
    """Sleep, waking early when ``stop`` is set."""
    seconds = max(seconds, 0.001)
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@dataclass(frozen=True)
class RunOptions:
    """What ``scripts/simulate.py`` asks for; see its ``--help``."""

    rate: float = 200.0
    tables: int = 12
    players: int = 500
    seed: int = 1
    count: int | None = None
    profiles: bool = True
    realtime_clock: bool = True
    #: epoch ms of the first event; default: now
    start_ms: int | None = None
    topic: str | None = None
    profiles_topic: str | None = None
    #: also the players' account events (logins, deposits, KYC), to ``accounts_topic``; None:
    #: in paced runs, not in a preload, whose records reach a lagging worker topic by topic
    #: rather than in event time (docs/integration.md, "Order across topics")
    accounts: bool | None = None
    accounts_topic: str | None = None

    @property
    def with_accounts(self) -> bool:
        return self.rate > 0 if self.accounts is None else self.accounts


def live_time_scale(config: StudioConfig, rate: float, seed: int) -> float:
    """The ``time_scale`` at which event time keeps pace with the wall clock at ``rate``.

    The events per second a studio makes are fixed by its tables and players; to reach
    another rate while stamping real time, rounds are shortened (or lengthened) instead.
    """
    natural = event_rate(config, seed)
    return rate / natural if natural > 0 else 1.0


async def run(
    options: RunOptions,
    settings: Settings | None = None,
    *,
    stop: asyncio.Event | None = None,
    stats: ProduceStats | None = None,
    on_progress: Callable[[ProduceStats], None] | None = None,
    progress_every: float = 5.0,
) -> ProduceStats:
    """Profiles first (so enrichment finds them), then table and account events in event
    time order, with the options' pacing (``count`` and ``rate`` count both).

    ``rate`` <= 0 means as fast as possible (a preload); ``realtime_clock`` stamps events
    with the wall clock by pacing on event time (and choosing the round speed to match
    ``rate``); without it event time starts at ``start_ms`` and runs at the studio's pace.
    """
    settings = settings or Settings.from_env()
    topics = {TABLE_EVENT: options.topic or settings.topics.table_events}
    if options.with_accounts:
        topics[ACCOUNT_EVENT] = options.accounts_topic or settings.topics.account_events
    profiles_topic = options.profiles_topic or settings.topics.player_profiles
    await check_topics(settings, [*topics.values(), *([profiles_topic] * options.profiles)])
    config = StudioConfig(
        tables=options.tables, players=options.players, accounts=options.with_accounts
    )
    realtime = options.realtime_clock and options.rate > 0
    if realtime:
        scale = live_time_scale(config, options.rate, options.seed)
        config = replace(config, time_scale=scale)
        log.info(
            "rounds run %.2fx as fast as in a real studio so that %s players at %d tables "
            "make %s events/s in real time (about %s players would play at a real pace)",
            scale,
            f"{options.players:,}",
            options.tables,
            f"{options.rate:,.0f}",
            f"{round(options.players * scale):,}",
        )
    # the clock starts after the time scale's trial run (a second or more of CPU): a live
    # run would otherwise open with a burst of the events due meanwhile
    start_ms = options.start_ms if options.start_ms is not None else int(time.time() * 1000)
    sim = StudioSimulator(config, options.seed, start_ms)
    stats = stats or ProduceStats()
    stats.tables = len(sim.tables)
    producer = make_producer(settings, fast=options.rate <= 0)
    await producer.start()
    try:
        if options.profiles:
            await produce_profiles(producer, profiles_topic, sim.profiles(start_ms), stats)
            log.info("produced %s player profiles to %s", f"{stats.profiles:,}", profiles_topic)
        stats.started = time.monotonic()
        await produce_records(
            producer,
            topics,
            sim.records(),
            count=options.count,
            rate=options.rate if options.rate > 0 and not realtime else None,
            pace_by_event_time=realtime,
            stats=stats,
            stop=stop,
            on_progress=on_progress,
            progress_every=progress_every,
        )
    finally:
        await asyncio.shield(producer.stop())
    return stats


async def preload(
    count: int,
    settings: Settings | None = None,
    *,
    tables: int = 12,
    players: int = 500,
    seed: int = 1,
    start_ms: int | None = None,
    profiles: bool = True,
    topic: str | None = None,
    profiles_topic: str | None = None,
) -> ProduceStats:
    """``count`` table events as fast as possible, for benchmarks (event time at studio
    pace; no account events, as in every preload)."""
    return await run(
        RunOptions(
            rate=0,
            tables=tables,
            players=players,
            seed=seed,
            count=count,
            profiles=profiles,
            realtime_clock=False,
            start_ms=start_ms,
            topic=topic,
            profiles_topic=profiles_topic,
        ),
        settings,
    )
