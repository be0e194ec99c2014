"""Consumers pause after a hasty empty fetch (app.streaming.pacing) and still get their records."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from app.operations.admin import admin_client
from app.settings import Settings
from app.streaming.pacing import EMPTY_FETCH_PAUSE, start_paced

pytestmark = pytest.mark.broker

SECONDS = 1.0


async def _fetches_in(consumer: AIOKafkaConsumer, seconds: float) -> int:
    """Fetch requests the consumer's fetcher sends in ``seconds`` on its assignment."""
    fetcher = consumer._fetcher
    sent = 0
    request = fetcher._proc_fetch_request

    async def counting(*args):
        nonlocal sent
        sent += 1
        return await request(*args)

    fetcher._proc_fetch_request = counting
    await consumer.getmany(timeout_ms=int(seconds * 1000))
    return sent


async def _on_empty_topic(paced: bool, body) -> object:
    settings = Settings.from_env()
    topic = f"pacing-{uuid.uuid4().hex[:10]}"
    async with admin_client(settings) as admin:
        await admin.create_topics([NewTopic(topic, 1, 1)])
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
        await start_paced(consumer, pace=paced)
        try:
            consumer.assign([TopicPartition(topic, 0)])
            return await body(consumer, settings, topic)
        finally:
            await consumer.stop()
            await admin.delete_topics([topic])


def test_a_paced_consumer_does_not_spin_on_an_empty_partition():
    async def count(consumer, settings, topic):
        return await _fetches_in(consumer, SECONDS)

    paced = asyncio.run(_on_empty_topic(True, count))
    bound = SECONDS / EMPTY_FETCH_PAUSE * 1.2 + 10
    assert paced <= bound, f"{paced} fetch requests in {SECONDS} s (at most {bound:.0f})"
    unpaced = asyncio.run(_on_empty_topic(False, count))
    if unpaced <= bound:
        pytest.skip(f"this broker holds empty fetches ({unpaced} requests/s): nothing to pace")


def test_a_paced_consumer_still_gets_every_record():
    async def produce_then_read(consumer, settings, topic):
        await consumer.getmany(timeout_ms=200)  # idle first: the pacing is in effect
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        try:
            for i in range(50):
                await producer.send(topic, f"r{i}".encode())
            await producer.flush()
        finally:
            await producer.stop()
        got: list[bytes] = []
        for _ in range(50):
            batches = await consumer.getmany(timeout_ms=200)
            got += [r.value for records in batches.values() for r in records]
            if len(got) >= 50:
                break
        return got

    got = asyncio.run(_on_empty_topic(True, produce_then_read))
    assert got == [f"r{i}".encode() for i in range(50)]
