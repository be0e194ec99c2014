"""Reads what a replay needs from Kafka and drives ``app.audit.replay`` partition by partition.

One plain consumer with no group: it never commits and never produces, so a replay cannot
touch the live topics, the workers' offsets or their state. Every topic is read up to the end
offsets seen when the replay starts, so decisions made meanwhile are not half-compared.

Partitions are replayed one after the other (a player's events, profile, state and journal
all live on one partition), so memory holds one partition's state and journal at a time, and
a checkpoint is simply the partitions done and their merged report: ``--resume`` skips them
and replays the interrupted partition again from its first retained record.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from app.audit.model import ReplayRange, ReplayRecord, input_rank, input_topics
from app.audit.replay import PartitionReplay, Secrets
from app.audit.report import Report
from app.audit.revisions import Revision, RevisionBook, revisions_from_history
from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.core import Engine
from app.core.rules import Ruleset
from app.operations.reading import read_to_end
from app.pipeline.ingest import MAX_AGE_MS, Ingest
from app.rules import compile_document
from app.rules.loader import load_ruleset_file
from app.rules.policy import load_policies, runtime_view
from app.rules.versioning import assign_versions
from app.security import kafka_clients
from app.security.erasure_key import erasure_key
from app.settings import Settings

log = logging.getLogger(__name__)

FETCH_RECORDS = 2000


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    rate: float
    seconds_left: float
    partition: int

    def line(self) -> str:
        left = int(self.seconds_left)
        return (
            f"replayed {self.done:,} of ~{self.total:,} records (partition {self.partition}), "
            f"{self.rate:,.0f}/s, about {left // 60}m{left % 60:02d}s left"
        )


@dataclass(slots=True)
class ReplayOptions:
    window: ReplayRange = field(default_factory=ReplayRange)
    #: a candidate ruleset file to decide the same events with (what-if)
    what_if: Path | None = None
    #: where a stop saves, and ``resume`` reads, the partitions done
    checkpoint: Path | None = None
    resume: bool = False
    #: called every ``progress_every`` seconds
    progress: Callable[[Progress], None] | None = None
    progress_every: float = 5.0
    #: set it to stop at the next record (Ctrl-C): the checkpoint is saved
    stop: asyncio.Event | None = None


@dataclass(slots=True)
class ReplayOutcome:
    report: Report
    #: stopped before the end: the report covers ``report.partitions_done`` only
    stopped: bool = False
    elapsed: float = 0.0


class CheckpointMismatchError(ValueError):
    """The checkpoint was written by a replay of another range, candidate or deployment."""


def _record(message: ConsumerRecord) -> ReplayRecord:
    return ReplayRecord(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        message.timestamp,
        tuple(message.headers or ()),
    )


async def _merged(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    ends: dict[TopicPartition, int],
    rank: dict[str, int],
    horizon_ms: int | None,
    leader: TopicPartition,
    leader_end: int,
) -> AsyncIterator[ReplayRecord]:
    """One partition's inputs merged by Kafka timestamp, each in offset order (the async
    twin of ``replay.merge_by_time``). Stops at ``horizon_ms`` (Kafka time), and once
    ``leader`` (table-events) reaches ``leader_end``."""
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    buffers: dict[TopicPartition, deque[ReplayRecord]] = {tp: deque() for tp in tps}
    limit = {tp: leader_end if tp == leader else ends[tp] for tp in tps}
    live = {tp for tp in tps if await consumer.position(tp) < limit[tp]}

    async def fill(tp: TopicPartition) -> None:
        while not buffers[tp] and tp in live:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=FETCH_RECORDS)
            for message in batch.get(tp, ()):
                if message.offset >= limit[tp] or (
                    horizon_ms is not None and message.timestamp > horizon_ms
                ):
                    live.discard(tp)
                    break
                buffers[tp].append(_record(message))
            if await consumer.position(tp) >= limit[tp]:
                live.discard(tp)

    def key(tp: TopicPartition) -> tuple[int, int, int]:
        head = buffers[tp][0]
        return head.timestamp_ms, rank.get(head.topic, 9), head.offset

    while True:
        for tp in tps:
            await fill(tp)
        heads = [tp for tp in tps if buffers[tp]]
        if not heads or (leader not in live and not buffers[leader] and leader_end < ends[leader]):
            return  # nothing left, or an offset range's end reached on table-events
        yield buffers[min(heads, key=key)].popleft()


def _make_engine(settings: Settings) -> Callable[[Ruleset], Engine]:
    jurisdictions = runtime_view(load_policies(settings.jurisdictions_path))
    salt = settings.game_salt.encode()  # the workers' (PITBOSS_GAME_SALT): the same outcomes
    return lambda ruleset: Engine(ruleset, settings.operator_timezone, jurisdictions, salt)


async def load_revisions(consumer: AIOKafkaConsumer, settings: Settings) -> list[Revision]:
    """The deployment's ruleset revisions from ``crm-rules-history``; a live revision the
    history lacks (published before it existed) is added from ``crm-rules``."""
    topics = settings.topics
    existing = await consumer.topics()
    history: list[tuple[bytes | None, bytes | None, int]] = []
    live: dict | None = None
    for topic in (topics.crm_rules_history, topics.crm_rules):
        if topic not in existing:
            continue
        tp = TopicPartition(topic, 0)
        ends = await consumer.end_offsets([tp])
        async for m in read_to_end(consumer, [tp], ends, max_records=FETCH_RECORDS):
            if topic == topics.crm_rules_history:
                history.append((m.key, m.value, m.timestamp))
            elif m.key == settings.ruleset_id.encode():
                live = None if m.value is None else orjson.loads(m.value)
    revisions = revisions_from_history(history, settings.ruleset_id)
    if live is not None and live.get("revision") not in {r.revision for r in revisions}:
        log.warning("%s lacks the live revision %s", topics.crm_rules_history, live["revision"])
        revisions.append(Revision(int(live["revision"]), int(live.get("published_at") or 0), live))
    return revisions


def candidate_engine(
    settings: Settings, path: Path, book: RevisionBook, make: Callable[[Ruleset], Engine]
) -> tuple[Engine, str]:
    """The candidate file, validated as ``rules push`` would (RulesFileError otherwise) and
    versioned against the latest revision, as an Engine; and its label."""
    doc = load_ruleset_file(path, load_policies(settings.jurisdictions_path))
    latest = book.epochs[-1].document
    published = assign_versions(doc, latest, int(time.time() * 1000), f"what-if {path.name}")
    return make(compile_document(published)), f"{path.name} (as revision {published['revision']})"


def fingerprint(settings: Settings, options: ReplayOptions) -> dict:
    """What a checkpoint must agree on to be resumed."""
    what_if = None
    if options.what_if is not None:
        what_if = hashlib.sha256(Path(options.what_if).read_bytes()).hexdigest()
    return {
        "table_events": settings.topics.table_events,
        "journal": settings.topics.journal,
        "ruleset": settings.ruleset_id,
        "window": options.window.describe(),
        "what_if": what_if,
    }


def _save(path: Path, mark: dict, report: Report) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps({"fingerprint": mark, "report": report.to_json()}))
    os.replace(tmp, path)


def _resume(path: Path, mark: dict) -> Report:
    doc = orjson.loads(path.read_bytes())
    if doc["fingerprint"] != mark:
        raise CheckpointMismatchError(
            f"{path} belongs to another replay ({doc['fingerprint']}); not resuming"
        )
    return Report.from_json(doc["report"])


async def run_replay(settings: Settings, options: ReplayOptions | None = None) -> ReplayOutcome:
    """Replay the deployment's retained input and compare it with its journal."""
    options = options or ReplayOptions()
    started = time.monotonic()
    topics = settings.topics
    window = options.window
    mark = fingerprint(settings, options)
    registry = settings.schema_registry_url or None
    ingest = Ingest(topics, settings.partitions, registry, erasure_key=erasure_key(settings))
    journal_codec = AvroCodec("JournalEntry", registry_url=registry)
    make = _make_engine(settings)
    consumer = kafka_clients.consumer(
        settings,
        client_id=f"{settings.app_id}-replay",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        # Before any assign() narrows the metadata; never ask for one topic (it would be
        # created): list them all.
        existing = await consumer.topics()
        partitions = sorted(consumer.partitions_for_topic(topics.table_events) or ())
        book = RevisionBook(await load_revisions(consumer, settings), make)
        candidate, label = None, ""
        if options.what_if is not None:
            candidate, label = candidate_engine(settings, Path(options.what_if), book, make)
        report = Report(window=window.describe(), candidate={} if candidate else None)
        if options.resume and options.checkpoint is not None and options.checkpoint.exists():
            report = _resume(options.checkpoint, mark)
        report.candidate_label = label
        if window.offsets is not None:  # a partition with no range has nothing to compare
            partitions = [p for p in partitions if p in window.offsets]
        todo = [p for p in partitions if p not in report.partitions_done]
        # table-events leads; an input topic never created has nothing to replay
        inputs = [t for t in input_topics(topics) if t in existing or t == topics.table_events]
        tps = {p: [TopicPartition(t, p) for t in inputs] for p in todo}
        all_tps = [tp for group in tps.values() for tp in group]
        journal_tps = {p: TopicPartition(topics.journal, p) for p in todo}
        ends = await consumer.end_offsets([*all_tps, *journal_tps.values()])
        # after the journal's: a secret is written before the first entry sealed under it
        every = list(range(settings.partitions))  # co-partitioned with the events
        secrets = Secrets.of(await read_secrets(consumer, settings, every, existing))
        starts = await consumer.beginning_offsets(all_tps)
        leader_ends = {}
        for p in todo:
            leader = TopicPartition(topics.table_events, p)
            end = ends[leader]
            if window.offsets is not None and window.offsets[p][1] is not None:
                end = min(end, window.offsets[p][1])
            leader_ends[p] = end
        total = sum(
            (leader_ends[tp.partition] if tp.topic == topics.table_events else ends[tp])
            - starts[tp]
            for tp in all_tps
        )
        # An event stamped later than this after it happened is refused by ingest (MAX_AGE_MS).
        horizon = window.to_ms + MAX_AGE_MS if window.by_time and window.to_ms is not None else None
        rank = input_rank(topics)
        done, last_tick = 0, time.monotonic()
        for p in todo:
            journal = [
                (m.offset, _decode(journal_codec, m))
                async for m in read_to_end(
                    consumer, [journal_tps[p]], ends, max_records=FETCH_RECORDS
                )
            ]
            replay = PartitionReplay(
                p,
                ingest,
                book,
                window,
                [(o, e) for o, e in journal if e is not None],
                secrets,
                candidate,
            )
            expected = sum(
                (leader_ends[p] if tp.topic == topics.table_events else ends[tp]) - starts[tp]
                for tp in tps[p]
            )
            fed = 0
            leader = TopicPartition(topics.table_events, p)
            async for record in _merged(
                consumer, tps[p], ends, rank, horizon, leader, leader_ends[p]
            ):
                replay.feed(record)
                fed += 1
                if options.stop is not None and options.stop.is_set():
                    if options.checkpoint is not None:
                        _save(options.checkpoint, mark, report)
                    return ReplayOutcome(report, True, time.monotonic() - started)
                if (
                    options.progress is not None
                    and time.monotonic() - last_tick >= options.progress_every
                ):
                    last_tick = time.monotonic()
                    options.progress(_progress(done + fed, total, started, p))
            done += fed
            total -= expected - fed  # a range's horizon stopped the partition early
            report.merge(replay.finish())
            if options.checkpoint is not None:
                _save(options.checkpoint, mark, report)
        report.settle(window)
        if options.checkpoint is not None:
            with contextlib.suppress(FileNotFoundError):
                options.checkpoint.unlink()  # finished: nothing to resume
        return ReplayOutcome(report, False, time.monotonic() - started)
    finally:
        await consumer.stop()


async def read_secrets(
    consumer: AIOKafkaConsumer, settings: Settings, partitions: list[int], existing: set[str]
) -> dict[str, bytes]:
    """The secrets ``player-keys`` holds (player id -> secret), the latest of each: a
    tombstone (an erased player) removes one; none if the topic does not exist. Every
    partition's, so an entry misplaced on another partition is still recognised: about
    200 bytes of memory per player."""
    secrets: dict[str, bytes] = {}
    topic = settings.topics.player_keys
    if topic not in existing:
        return secrets
    tps = [TopicPartition(topic, p) for p in partitions]
    async for m in read_to_end(consumer, tps, max_records=FETCH_RECORDS):
        player_id = m.key.decode(errors="replace") if m.key else ""
        if m.value is None:
            secrets.pop(player_id, None)
        else:
            secrets[player_id] = m.value
    return secrets


def _decode(codec: AvroCodec, message: ConsumerRecord) -> dict | None:
    try:
        return codec.decode(message.value)
    except DecodeError as exc:
        log.warning(
            "journal partition %s offset %s is not a JournalEntry: %s",
            message.partition,
            message.offset,
            exc,
        )
        return None


def _progress(done: int, total: int, started: float, partition: int) -> Progress:
    elapsed = max(time.monotonic() - started, 1e-9)
    rate = done / elapsed
    left = max(total - done, 0) / rate if rate else 0.0
    return Progress(done, max(total, done), rate, left, partition)
