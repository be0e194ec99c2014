"""Where every intake (HTTP, RabbitMQ) hands its items to Kafka: accepted events to
``table-events``, refused items' letters to ``dead-letters``, and then it waits for the
broker's acknowledgements, so a sender is told "accepted" (or a queue message acked) only for
what Kafka holds.

Batches are handed over one at a time (a lock around the sends), so the records of batches
that arrive in an order reach each partition in that order; the acknowledgements of several
batches are awaited concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from app.contract.codec import AvroCodec
from app.intake.translate import Outcome
from app.security import kafka_clients
from app.security.settings import KafkaSecurity
from app.settings import Settings

log = logging.getLogger(__name__)

#: Seconds to wait for Kafka's acknowledgement of a batch.
ACK_TIMEOUT = 30.0


class Outlet:
    """One producer (``acks=all``) and the count of events waiting for acknowledgement."""

    def __init__(self, settings: Settings, kafka: KafkaSecurity, client: str) -> None:
        self.settings, self.kafka, self.client = settings, kafka, client
        self.letters = AvroCodec("DeadLetter")
        self.producer: AIOKafkaProducer | None = None
        self.in_flight = 0
        self.sending = asyncio.Lock()

    async def start(self) -> None:
        self.producer = kafka_clients.producer(
            self.settings,
            kafka=self.kafka,
            client_id=f"{self.settings.app_id}-{self.client}",
            acks="all",
            linger_ms=5,
            request_timeout_ms=int(ACK_TIMEOUT * 1000),
        )
        await self.producer.start()

    async def stop(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            await producer.stop()

    async def produce(
        self, outcomes: Iterable[Outcome], now_ms: int, whole: dict | None = None
    ) -> dict[int, str]:
        """Send the accepted outcomes (stamped ``now_ms``, the time ingest checked them
        against) and every refused one's letter (and ``whole``, a body's own letter), then
        wait for every acknowledgement (TimeoutError after ``ACK_TIMEOUT``). Returns the
        accepted events Kafka did not take: index -> why."""
        assert self.producer is not None, "start the outlet first"
        topics = self.settings.topics
        items = list(outcomes)
        # an event that fails ingest's checks goes on too: the worker that owns its player
        # refuses it again, journals that, and seals its dead letter under the player's
        # secret (which only that worker holds), exactly as for the event sent as Avro
        events = [o for o in items if o.value is not None]
        letters = [(o.key, o.letter) for o in items if o.letter is not None]
        if whole is not None:
            letters.append((None, whole))
        self.in_flight += len(items)
        try:
            async with self.sending:
                sends = [
                    await self.producer.send(
                        topics.table_events, o.value, key=o.key, timestamp_ms=now_ms
                    )
                    for o in events
                ]
                sends += [
                    await self.producer.send(
                        topics.dead_letters, self.letters.encode(letter), key=key
                    )
                    for key, letter in letters
                ]
            results = await asyncio.wait_for(
                asyncio.gather(*sends, return_exceptions=True), ACK_TIMEOUT
            )
        finally:
            self.in_flight -= len(items)
        for result in results[len(events) :]:
            if isinstance(result, BaseException):
                log.error("a dead letter was not stored: %r", result)
        return {
            o.index: f"Kafka did not store it ({type(r).__name__}): send it again"
            for o, r in zip(events, results, strict=False)
            if isinstance(r, BaseException) and o.reason is None
        }
