"""Where delivery's own records go (dead letters, reward lifecycle steps): one ``acks=all``
producer, and a send that returns only once the broker has every record, trying again while
Kafka is away, so an offset is never committed before what its record produced is stored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from app.security import kafka_clients
from app.security.settings import KafkaSecurity
from app.settings import Settings

log = logging.getLogger(__name__)

#: (topic, key, value)
Output = tuple[str, bytes | None, bytes]
#: Pauses between attempts while Kafka does not take the records, in seconds.
FIRST_RETRY, LONGEST_RETRY = 1.0, 30.0


class Outlet:
    def __init__(self, settings: Settings, kafka: KafkaSecurity, client: str) -> None:
        self.producer: AIOKafkaProducer = kafka_clients.producer(
            settings, kafka=kafka, client_id=f"{settings.app_id}-{client}", acks="all"
        )

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def send(self, outputs: Sequence[Output]) -> None:
        """Send ``outputs`` in order and wait until the broker has them all."""
        pause = FIRST_RETRY
        while outputs:
            try:
                sent = [await self.producer.send(t, value=v, key=k) for t, k, v in outputs]
                await asyncio.gather(*sent)
                return
            except KafkaError as exc:
                log.warning(
                    "Kafka did not take %d record(s) (%s); again in %.0f s",
                    len(outputs),
                    exc,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_RETRY)
