"""Publishing a micro-batch's records as a few Kafka record batches, not one send each.

A producer ``send`` per record costs a future, a partitioner call and an accumulator
append; with tens of thousands of outputs a second that is the worker's largest cost
after the decisions themselves. Here the records are appended straight into one aiokafka
``BatchBuilder`` per topic partition (more when one fills), sent with ``send_batch``, and
awaited together. A keyed record goes where Kafka's default partitioner would put it
(``app.pipeline.ingest.key_partition``, which ``partition_for`` uses too); an unkeyed one is spread
round-robin.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from faust.types import AppT

from app.pipeline.ingest import key_partition

#: Headers as Kafka carries them.
Headers = list[tuple[str, bytes]]


class Outbox:
    """The records of one batch to publish, per topic partition, in the order added."""

    def __init__(self, app: AppT) -> None:
        self._producer = app.producer._ensure_producer()  # the app's started aiokafka one
        self._builders: dict[tuple[str, int], list[Any]] = {}
        self._spread = itertools.count()

    def add(
        self,
        topic: str,
        partitions: int,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue a record for ``topic`` (of ``partitions`` partitions) on ``partition``, or
        where the default partitioner puts ``key``."""
        if partition is None:
            if key is None:
                partition = next(self._spread) % partitions
            else:
                partition = key_partition(key, partitions)
        builders = self._builders.setdefault((topic, partition), [])
        record = {"timestamp": None, "key": key, "value": value, "headers": headers or []}
        if not builders or builders[-1].append(**record) is None:
            builder = self._producer.create_batch()
            if builder.append(**record) is None:
                raise ValueError(f"a record for {topic} is larger than a producer batch")
            builders.append(builder)

    async def send(self) -> dict[tuple[str, int], int]:
        """Send everything and wait until the broker has it; the offset of the last record
        written to each topic partition."""
        sent = []
        for (topic, partition), builders in self._builders.items():
            for builder in builders:
                builder.close()
                future = await self._producer.send_batch(builder, topic, partition=partition)
                sent.append((topic, partition, builder.record_count(), future))
        self._builders = {}
        metas = await asyncio.gather(*(future for *_, future in sent))
        last: dict[tuple[str, int], int] = {}
        for (topic, partition, count, _), meta in zip(sent, metas, strict=True):
            last[topic, partition] = max(last.get((topic, partition), -1), meta.offset + count - 1)
        return last
