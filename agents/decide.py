"""The decide agent: table events, the other player inputs (``app.pipeline.inputs``) and
profile updates in; rewards, journal, dead letters out.

The records arrive a fetch at a time through the consumer's lane (``app.streaming.consumer``).
Per micro-batch: decide it (``app.pipeline.batch``), make the secrets of players new to the
kept topics and wait until the broker has them, publish the outputs sealed under the secrets
(``app.security.player_keys``) and wait until the broker has them, and only then write the
profiles and states (with the applied offsets, ``app.pipeline.keys.APPLIED``), delete the
secrets of the players erased, and acknowledge the offsets. A crash before the state write
re-delivers the records, decided again with identical ids; one after it re-delivers records
the tables already hold, skipped by their offsets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from faust.types import StreamT

from agents.rules import feed
from app.contract.registry import SchemaRegistryError
from app.metrics.batch import record_batch
from app.pipeline.batch import BatchDecider, BatchResult
from app.pipeline.ingest import Ingest, Message
from app.pipeline.inputs import INPUTS
from app.pipeline.plan import OutputCodecs, needs_secrets, output_plan
from app.rules.live import LiveEngine
from app.rules.policy import load_policies, runtime_view
from app.security.erasure_key import erasure_key
from app.security.key_store import secrets_for, shred
from app.security.player_keys import Sealer
from app.streaming.consumer import fetches, lane
from app.streaming.faust_app import app, settings
from app.streaming.outbox import Outbox
from tables.player_keys import player_keys
from tables.players import player_profiles, player_state

log = logging.getLogger(__name__)
topics = settings.topics

source = app.topic(
    topics.table_events,
    topics.rekeyed,
    topics.player_profiles,
    *(getattr(topics, kind.role) for kind in INPUTS),
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)

registry_url = settings.schema_registry_url or None
ERASURE_KEY = erasure_key(settings)
decider = BatchDecider(
    Ingest(topics, settings.partitions, registry_url, erasure_key=ERASURE_KEY),
    player_state,
    player_profiles,
    settings.state_write_version,
)
codecs = OutputCodecs(registry_url)
live = LiveEngine(
    settings.operator_timezone,
    lambda: feed.get(settings.ruleset_id),
    runtime_view(load_policies(settings.jurisdictions_path)),
    settings.game_salt,
)


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


async def process(records: Sequence[Message]) -> None:
    """Decide a batch of Kafka records, publish the outputs, then write the tables."""
    result = await decide_when_possible(records)
    n = settings.partitions
    sealer = Sealer(await secrets_for(player_keys, needs_secrets(result), n), ERASURE_KEY)
    box = Outbox(app)
    for role, key, value, partition, headers in output_plan(result, codecs, sealer, n):
        box.add(getattr(topics, role), n, key, value, partition, list(headers))
    await box.send()
    # The profiles before the states: the applied offsets written with the states cover them.
    await asyncio.gather(*(player_profiles.put_many(p, w) for p, w in result.profiles.items()))
    await asyncio.gather(*(player_state.put_many(p, w) for p, w in result.states.items()))
    # After the states: a crash before them decides the erasure again, with the secret; one
    # between them and this leaves the secret until the id's next record (docs/security.md).
    await shred(player_keys, result.shredded, n)
    count(result, len(records))


async def decide_when_possible(records: Sequence[Message]) -> BatchResult:
    """Decide the batch; while the schema registry is unreachable, wait and try again
    (its records are good, so they must not become dead letters)."""
    while True:
        try:
            return decider.decide(records, int(time.time() * 1000), live.current())
        except SchemaRegistryError as exc:
            log.warning(
                "schema registry unreachable (%s); retrying the batch in 2 s",
                exc,
                extra={
                    "batch": totals.batches + 1,
                    "partitions": sorted({r.partition for r in records}),
                },
            )
            await asyncio.sleep(2.0)


def count(result: BatchResult, records: int) -> None:
    batch, out = result.batch, result.decisions
    record_batch(result, records, int(time.time() * 1000))
    totals.batches += 1
    totals.redelivered += result.redelivered
    totals.erased_events += result.erased_events
    totals.events += out.events
    totals.duplicates += out.duplicates
    totals.table_level += batch.table_level
    totals.profiles += sum(len(p) for p in batch.profiles.values())
    totals.forwarded += len(batch.forwards)
    totals.rewards += len(out.rewards)
    totals.journal += len(out.journal) + len(batch.rejected)
    totals.dead_letters += len(result.dead_letters) + len(result.player_letters)


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
