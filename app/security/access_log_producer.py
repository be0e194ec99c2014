"""The access log's way onto Kafka: each AccessLogEntry is sent to the ``access-log`` topic and
the request it records waits for the broker's acknowledgement before it is served.

Waiting is what makes the log reliable (an access the broker did not take is refused, 503,
by the middleware); the cost stays small because the entries of concurrent requests travel
together in one record batch (a few milliseconds of linger), not one round trip each.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from app.contract.codec import AvroCodec
from app.security import kafka_clients
from app.security.erasure_key import erasure_key
from app.security.player_names import access_name
from app.security.settings import KafkaSecurity
from app.settings import Settings

#: Seconds an entry may take to be acknowledged before its request is refused.
ACK_TIMEOUT = 5.0
#: Milliseconds the producer waits to put concurrent entries in one batch.
LINGER_MS = 5


class AccessLogProducer:
    """An ``on_access`` for ``auth_middleware``: one awaited, acknowledged send per entry."""

    def __init__(self, settings: Settings, kafka: KafkaSecurity) -> None:
        self.settings, self.kafka = settings, kafka
        self.topic = settings.topics.access_log
        self.codec = AvroCodec("AccessLogEntry", registry_url=settings.schema_registry_url or None)
        self.producer: AIOKafkaProducer | None = None
        self.lock = asyncio.Lock()

    async def __call__(self, entry: dict[str, Any]) -> None:
        """Send ``entry`` and wait until the broker has it; raises if it cannot. The player
        is named by a pseudonym (``app.security.player_names``), never by the id."""
        producer = await self.started()
        if entry["player_id"]:
            named = access_name(entry["player_id"], erasure_key(self.settings))
            entry = {**entry, "player_id": named}
        key = entry["player_id"] or entry["subject"]
        sent = await asyncio.wait_for(
            producer.send(self.topic, self.codec.encode(entry), key=key.encode() if key else None),
            ACK_TIMEOUT,
        )
        await asyncio.wait_for(sent, ACK_TIMEOUT)

    async def started(self) -> AIOKafkaProducer:
        """The producer, started on first use (in the web server's event loop)."""
        async with self.lock:
            if self.producer is None:
                producer = kafka_clients.producer(
                    self.settings,
                    kafka=self.kafka,
                    client_id=f"{self.settings.app_id}-access-log",
                    acks="all",
                    linger_ms=LINGER_MS,
                    request_timeout_ms=int(ACK_TIMEOUT * 1000),
                )
                try:
                    await asyncio.wait_for(producer.start(), ACK_TIMEOUT)
                except BaseException:
                    await producer.stop()
                    raise
                self.producer = producer
            return self.producer

    async def stop(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            await producer.stop()
