"""The decide agent: table events and profile updates in; rewards, journal, dead letters out.

The records arrive a fetch at a time through the consumer's lane (``app.streaming.consumer``), not
one Faust event each. Per micro-batch: sort the records by player (ingest), read every
player's state and profile once, run the core, publish the decisions and wait until the
broker has them, and only then write each changed player's state once and acknowledge
the batch's offsets. A crash before the state write makes
the events re-deliver and decide again with identical ids; a crash after it makes them
re-deliver as records the tables already hold, recognised by their offsets (``APPLIED``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from faust.types import StreamT

from agents.rules import feed
from app.contract.codec import AvroCodec, SchemaRegistryError
from app.core import Decisions, Engine
from app.leaderboards.board import encode_score
from app.pipeline import decide as decide_batch
from app.pipeline.ingest import RECORD_TYPE_HEADER, Ingest, SortedBatch
from app.rules.live import LiveEngine
from app.rules.policy import load_policies, runtime_view
from app.streaming.consumer import fetches, lane
from app.streaming.faust_app import app, settings
from app.streaming.outbox import Outbox
from tables.players import player_profiles, player_state

log = logging.getLogger(__name__)
topics = settings.topics

source = app.topic(
    topics.table_events,
    topics.rekeyed,
    topics.player_profiles,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)

ingest = Ingest(topics, settings.partitions, settings.schema_registry_url or None)
live = LiveEngine(
    settings.operator_timezone,
    lambda: feed.get(settings.ruleset_id),
    runtime_view(load_policies(settings.jurisdictions_path)),
)
reward_codec = AvroCodec("Reward", registry_url=settings.schema_registry_url or None)
journal_codec = AvroCodec("JournalEntry", registry_url=settings.schema_registry_url or None)
cooldown_codec = AvroCodec("CoolDown", registry_url=settings.schema_registry_url or None)
dead_letter_codec = AvroCodec("DeadLetter", registry_url=settings.schema_registry_url or None)


@dataclass(slots=True)
class Totals:
    """Running counts for the periodic log line and the stats view."""

    events: int = 0
    duplicates: int = 0
    table_level: int = 0
    profiles: int = 0
    forwarded: int = 0
    rewards: int = 0
    journal: int = 0
    dead_letters: int = 0
    erased_events: int = 0
    batches: int = 0
    #: records re-delivered after a crash or an outage whose effects the tables already held
    redelivered: int = 0


totals = Totals()


@app.agent(lane(app, source), name="pitboss.decide")
async def decide(stream: StreamT) -> None:
    await feed.caught_up.wait()  # decide nothing under a ruleset that is no longer live
    async for records in fetches(stream):
        await process(records)


async def process(records: Sequence[Any]) -> None:
    """Decide a batch of Kafka records (anything with Kafka's record attributes)."""
    now_ms = int(time.time() * 1000)
    records, applied = skip_applied(records)
    batch = await sort_when_possible(records, now_ms)
    out = Decisions()
    engine = live.current()
    new_states: dict[int, dict[bytes, bytes | None]] = {}
    for partition in batch.events.keys() | batch.forgets.keys():
        players = batch.events.get(partition, {})
        new_states[partition] = decide_partition(engine, partition, players, batch, now_ms, out)
    for partition, offsets in applied.items():  # with the states: one write batch, in order
        new_states.setdefault(partition, {})[APPLIED] = orjson.dumps(offsets)
    await publish(batch, out)
    # The profiles before the states: the applied offsets written with the states cover them.
    await asyncio.gather(
        *(
            player_profiles.put_many(
                partition,
                {pid.encode(): None if p is None else orjson.dumps(p) for pid, p in ps.items()},
            )
            for partition, ps in batch.profiles.items()
        )
    )
    await asyncio.gather(
        *(player_state.put_many(partition, states) for partition, states in new_states.items())
    )
    count(batch, out)


#: Per partition, in the player-state table: {input topic: offset of the newest record of
#: that topic's partition whose effects the tables hold}. It is written with the batch's
#: states (after them on the same changelog partition, then in one RocksDB write batch;
#: see ``app.streaming.batch_table``: the local store is never ahead of its changelog), so a
#: record re-delivered after a crash, a SIGTERM cut short or a broker outage (offsets are
#: committed only every few seconds) is recognised by its offset, however many events a
#: player made since the last commit. The 32 event ids a player's state remembers cannot
#: do that during a catch-up (a player makes hundreds of events between two commits); they
#: still catch a studio sending the same event twice.
APPLIED = b"\x00applied"


def skip_applied(records: Sequence[Any]) -> tuple[list[Any], dict[int, dict[str, int]]]:
    """The records whose effects are not in the tables yet, and per partition where there
    were any, the applied offsets to write once they are. Profiles too: an old profile read
    again after a newer one would decide the events of its batch with stale traits."""
    fresh: list[Any] = []
    marks: dict[int, dict[str, int]] = {}
    changed: set[int] = set()
    for msg in records:
        mark = marks.get(msg.partition)
        if mark is None:
            raw = player_state.get_many(msg.partition, [APPLIED]).get(APPLIED)
            mark = marks[msg.partition] = orjson.loads(raw or b"{}")
        if msg.offset <= mark.get(msg.topic, -1):
            totals.redelivered += 1
            continue
        mark[msg.topic] = msg.offset
        changed.add(msg.partition)
        fresh.append(msg)
    return fresh, {partition: marks[partition] for partition in changed}


async def sort_when_possible(records: Sequence[Any], now_ms: int) -> SortedBatch:
    """Ingest the batch; while the schema registry is unreachable, wait and try again
    (its records are good, so they must not become dead letters)."""
    while True:
        try:
            return ingest.sort(records, now_ms)
        except SchemaRegistryError as exc:
            log.warning("schema registry unreachable (%s); retrying the batch in 2 s", exc)
            await asyncio.sleep(2.0)


def decide_partition(
    engine: Engine,
    partition: int,
    players: dict[str, list[dict]],
    batch: SortedBatch,
    now_ms: int,
    out: Decisions,
) -> dict[bytes, bytes | None]:
    """Erase, then run the core for each player of one partition (``app.pipeline.decide``,
    shared with the audit replay) against the tables; what to write (None: a tombstone)."""
    result = decide_batch.decide_partition(
        engine,
        partition,
        players,
        batch.forgets.get(partition, set()),
        batch,
        now_ms,
        out,
        read_states=lambda keys: player_state.get_many(partition, keys),
        read_profiles=lambda keys: player_profiles.get_many(partition, keys),
    )
    totals.erased_events += result.erased_events
    return result.written


async def publish(batch: SortedBatch, out: Decisions) -> None:
    """Send every output of the batch and wait until the broker has acknowledged them."""
    box = Outbox(app)
    n = settings.partitions
    for key, value, partition, record_type in batch.forwards:
        box.add(topics.rekeyed, n, key, value, partition, [(RECORD_TYPE_HEADER, record_type)])
    for key, letter in batch.dead_letters:
        box.add(topics.dead_letters, n, key, dead_letter_codec.encode(letter))
    for reward in out.rewards:
        box.add(topics.rewards, n, reward["player_id"].encode(), reward_codec.encode(reward))
    for cooldown in out.cooldowns:
        box.add(
            topics.cooldowns, n, cooldown["player_id"].encode(), cooldown_codec.encode(cooldown)
        )
    for board_key, player_id, total, event_time, top in out.scores:
        box.add(
            topics.leaderboard_scores,
            n,
            *encode_score(board_key, player_id, total, event_time, top),
        )
    for entry in (*batch.rejected, *out.journal):
        key = (entry["player_id"] or "").encode() or None
        box.add(topics.journal, n, key, journal_codec.encode(entry))
    await box.send()


def count(batch: SortedBatch, out: Decisions) -> None:
    totals.batches += 1
    totals.events += out.events
    totals.duplicates += out.duplicates
    totals.table_level += batch.table_level
    totals.profiles += sum(len(p) for p in batch.profiles.values())
    totals.forwarded += len(batch.forwards)
    totals.rewards += len(out.rewards)
    totals.journal += len(out.journal) + len(batch.rejected)
    totals.dead_letters += len(batch.dead_letters)


_last_report: dict[str, float] = {"at": time.monotonic(), "events": 0}


@app.timer(interval=10.0)
async def report() -> None:
    """Say in a log line what the worker did since the last one."""
    now = time.monotonic()
    done = totals.events - _last_report["events"]
    if done or totals.dead_letters:
        rate = done / max(now - _last_report["at"], 1e-9)
        log.info(
            "decided %s player events (%.0f/s); totals: %s rewards, %s journal entries, "
            "%s duplicates dropped, %s dead letters, %s re-keyed, %s profile updates",
            f"{done:,}",
            rate,
            f"{totals.rewards:,}",
            f"{totals.journal:,}",
            f"{totals.duplicates:,}",
            f"{totals.dead_letters:,}",
            f"{totals.forwarded:,}",
            f"{totals.profiles:,}",
        )
    _last_report.update(at=now, events=totals.events)
