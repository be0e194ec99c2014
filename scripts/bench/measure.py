"""Measuring helpers shared by ``scripts/bench/soak.py`` and ``scripts/bench/``.

Both time decisions the same way (the journal or reward record's Kafka timestamp minus
that of the event that triggered it), so their latency figures can be compared; keeping
one copy here means they cannot drift apart.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from pathlib import Path

from app.contract.codec import AvroCodec
from app.security import kafka_clients
from app.settings import Settings


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of an ascending list, nearest rank."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class LatencyMeter:
    """Matches decisions to the events that triggered them by event id, in either order.
    Decisions of events produced before ``started_ms`` (a warm-up) are matched but not
    timed, however late they come."""

    def __init__(self, started_ms: int) -> None:
        self.started_ms = started_ms
        self.warming_up = 0
        self.produced: dict[str, int] = {}  # event id -> its record's timestamp
        self.waiting: dict[str, list[int]] = defaultdict(list)  # event id -> decision times
        self.by_minute: dict[int, list[float]] = defaultdict(list)
        self.dead_letters = 0

    def event(self, event_id: str, ts: int) -> None:
        self.produced[event_id] = ts
        for decided_ts in self.waiting.pop(event_id, ()):
            self._record(ts, decided_ts)

    def decision(self, event_id: str, ts: int) -> None:
        produced = self.produced.get(event_id)
        if produced is None:
            self.waiting[event_id].append(ts)
        else:
            self._record(produced, ts)

    def _record(self, produced_ts: int, decided_ts: int) -> None:
        if produced_ts < self.started_ms:
            self.warming_up += 1
            return
        minute = max(0, (decided_ts - self.started_ms) // 60_000)
        self.by_minute[minute].append(float(decided_ts - produced_ts))

    def prune(self, older_than_ms: int) -> None:
        """Forget events too old to still be decided, so a long soak's meter stays small."""
        self.produced = {k: v for k, v in self.produced.items() if v >= older_than_ms}


async def measure(settings: Settings, meter: LatencyMeter) -> None:
    topics = settings.topics
    codecs = {
        topics.table_events: AvroCodec("TableEvent"),
        topics.journal: AvroCodec("JournalEntry"),
        topics.rewards: AvroCodec("Reward"),
    }
    consumer = kafka_clients.consumer(
        settings,
        *codecs,
        topics.dead_letters,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        pruned_at = time.monotonic()
        while True:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    if tp.topic == topics.dead_letters:
                        meter.dead_letters += 1
                        continue
                    value = codecs[tp.topic].decode(record.value)
                    if tp.topic == topics.table_events:
                        meter.event(value["event_id"], record.timestamp)
                    elif tp.topic == topics.journal and value["event_ids"]:
                        meter.decision(value["event_ids"][-1], record.timestamp)
                    elif tp.topic == topics.rewards:
                        meter.decision(value["trigger_event_ids"][-1], record.timestamp)
            if time.monotonic() - pruned_at > 60:
                meter.prune(int(time.time() * 1000) - 300_000)
                pruned_at = time.monotonic()
    finally:
        await consumer.stop()
