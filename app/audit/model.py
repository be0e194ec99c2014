"""What the audit replay reads and compares by: its input records, the range whose decisions
it compares, and each event's first sighting."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from app.pipeline.inputs import INPUTS
from app.settings import TopicNames

#: A journal entry, as decoded.
Entry = dict[str, Any]


@dataclass(slots=True)
class ReplayRecord:
    """A Kafka record as ingest sees it (``app.pipeline.ingest.Message``), and its place."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()
    #: position in the replay's merged order of the partition (set when fed)
    seq: int = 0

    @property
    def timestamp(self) -> int:
        """Kafka's record time in ms, the name ingest reads it by (as the worker's records)."""
        return self.timestamp_ms


def input_topics(topics: TopicNames) -> tuple[str, ...]:
    """The topics a replay merges per partition: the worker's inputs."""
    others = tuple(getattr(topics, kind.role) for kind in INPUTS)
    return (topics.player_profiles, topics.table_events, topics.rekeyed, *others)


def input_rank(topics: TopicNames) -> dict[str, int]:
    """Tie-break for equal timestamps: a profile before the play it describes, then the
    table events, the re-keyed records and the other inputs in registry order."""
    return {topic: rank for rank, topic in enumerate(input_topics(topics))}


def merge_by_time(
    inputs: Iterable[Iterable[ReplayRecord]], rank: Mapping[str, int]
) -> Iterator[ReplayRecord]:
    """One partition's inputs in the order the replay feeds them: by Kafka timestamp, each
    input kept in offset order whatever its timestamps do."""
    return heapq.merge(*inputs, key=lambda r: (r.timestamp_ms, rank.get(r.topic, 9), r.offset))


@dataclass(frozen=True, slots=True)
class ReplayRange:
    """Whose decisions are compared: events by event time, or records by offset on
    ``table-events`` (from inclusive, to exclusive; None: open). Neither: everything.
    Offsets address ``table-events`` only: a re-keyed event is then warm-up."""

    from_ms: int | None = None
    to_ms: int | None = None
    #: partition -> (from offset, to offset); a partition not listed is out of range
    offsets: Mapping[int, tuple[int | None, int | None]] | None = None

    @property
    def by_time(self) -> bool:
        return self.offsets is None and (self.from_ms is not None or self.to_ms is not None)

    def holds_time(self, t: int) -> bool:
        return (self.from_ms is None or t >= self.from_ms) and (
            self.to_ms is None or t < self.to_ms
        )

    def holds(self, record: ReplayRecord, event: Entry, table_events: str) -> bool:
        if self.offsets is None:
            return self.holds_time(event["occurred_at"])
        if record.topic != table_events or record.partition not in self.offsets:
            return False
        start, end = self.offsets[record.partition]
        return (start is None or record.offset >= start) and (end is None or record.offset < end)

    def describe(self) -> str:
        if self.offsets is not None:
            parts = ", ".join(
                f"{p}:{'' if a is None else a}..{'' if b is None else b}"
                for p, (a, b) in sorted(self.offsets.items())
            )
            return f"table-events offsets {parts}"
        if self.by_time:
            return f"event time {_iso(self.from_ms)} .. {_iso(self.to_ms)} (to exclusive)"
        return "everything retained"


def _iso(ms: int | None) -> str:
    if ms is None:
        return "…"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class Seen(NamedTuple):
    """An event's first sighting: where, whether in range, the epoch it ran under, whether
    journal entries pinned that epoch, and when it happened."""

    seq: int
    in_range: bool
    epoch: int
    pinned: bool
    occurred_at: int
