"""Read a topic from its beginning to its end offsets as of now, with public aiokafka API.

What the rules loader, the audit replay and the test harness each need before they act on a
compacted or append-only topic: everything written so far, and then stop.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition


async def read_to_end(
    consumer: AIOKafkaConsumer,
    tps: Iterable[TopicPartition],
    ends: Mapping[TopicPartition, int] | None = None,
    *,
    timeout_s: float | None = None,
    max_records: int | None = None,
) -> AsyncIterator[ConsumerRecord]:
    """Every record of ``tps`` from the beginning up to ``ends`` (default: the end offsets
    now), each partition in offset order. Assigns ``tps`` to ``consumer``.

    ``TimeoutError`` when ``timeout_s`` passes before every partition reached its end.
    """
    tps = list(tps)
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    if ends is None:
        ends = await consumer.end_offsets(tps)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    pending = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
    while pending:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"could not read {pending} to their end in {timeout_s} s")
        batches = await consumer.getmany(*pending, timeout_ms=500, max_records=max_records)
        for tp, messages in batches.items():
            for message in messages:
                if message.offset < ends[tp]:
                    yield message
        pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
