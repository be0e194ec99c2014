"""Replay input and a worker's journal built in memory: the replay's tests and benchmark
(``scripts/bench/replay.py``) without Kafka."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.audit.model import Entry, ReplayRecord, input_rank, merge_by_time
from app.contract.codec import AvroCodec
from app.core import Engine
from app.pipeline.batch import BatchDecider
from app.pipeline.ingest import Ingest, partition_for
from app.pipeline.plan import needs_secrets
from app.pipeline.store import DictStore
from app.security.player_keys import Sealer, new_secret

#: partition -> the journal's entries there, as (offset, entry)
Journal = dict[int, list[tuple[int, Entry]]]


def records_of(
    ingest: Ingest, events: Sequence[dict], profiles: Sequence[dict], profiles_at: int
) -> list[ReplayRecord]:
    """Profiles (stamped ``profiles_at``), then events, as Kafka would hold them: keyed by
    player (a table's events by table), on its partition, stamped 50 ms after they happened."""
    codecs = {ingest.topics.table_events: ingest.events, ingest.topics.player_profiles: None}
    profile_codec: AvroCodec = ingest.profiles
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for topic, record, at in [
        *((ingest.topics.player_profiles, p, profiles_at) for p in profiles),
        *((ingest.topics.table_events, e, e["occurred_at"] + 50) for e in events),
    ]:
        key = record["player_id"] or record["table_id"]
        partition = partition_for(key, ingest.partitions)
        offset = offsets.get((topic, partition), 0)
        offsets[topic, partition] = offset + 1
        codec = codecs[topic] or profile_codec
        out.append(ReplayRecord(topic, partition, offset, key.encode(), codec.encode(record), at))
    return out


def worker_journal(
    ingest: Ingest,
    records: Sequence[ReplayRecord],
    engine_at: Callable[[int], Engine],
    batch: int,
    secrets: dict[str, bytes],
    now_ms: int = 4_000_000_000_000,
) -> Journal:
    """What a worker journals for the records in micro-batches of ``batch`` (each
    topic-partition in offset order, merged by Kafka time): the engine is the one
    ``engine_at`` gives for the batch's last Kafka timestamp, and the clock a wall clock far
    from event time. The entries are sealed as the worker seals them, under ``secrets``
    (the player-keys topic in a dict: made for new players, deleted for erased ones)."""
    states, profiles = DictStore(), DictStore()
    decider = BatchDecider(ingest, states, profiles)
    journal: Journal = {p: [] for p in range(ingest.partitions)}
    inputs: dict[tuple[str, int], list[ReplayRecord]] = {}
    for record in records:  # a consumer reads each topic-partition in offset order
        inputs.setdefault((record.topic, record.partition), []).append(record)
    ordered = list(merge_by_time(inputs.values(), input_rank(ingest.topics)))
    for i in range(0, len(ordered), batch):
        chunk = ordered[i : i + batch]
        result = decider.decide(chunk, now_ms + i, engine_at(chunk[-1].timestamp_ms))
        profiles.apply(result.profiles)
        states.apply(result.states)
        for player_id in needs_secrets(result):
            secrets.setdefault(player_id, new_secret())
        sealer = Sealer(dict(secrets), ingest.erasure_key)
        for player_id in result.shredded:
            secrets.pop(player_id, None)
        for entry in result.journal:  # under the player's partition, like the worker
            partition = partition_for(entry["player_id"], ingest.partitions)
            journal[partition].append((len(journal[partition]), sealer.entry(entry)))
    return journal
