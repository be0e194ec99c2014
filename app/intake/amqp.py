"""The RabbitMQ intake (``pitboss intake-amqp``): consume a queue whose messages are batches in
a source's format (the message's content type says which, as over HTTP), map and check them
like the HTTP intake, produce to Kafka, and ack each message only once Kafka has acknowledged
everything it held.

Nothing is lost: a message is acked after Kafka has its records, so a RabbitMQ restart, a lost
connection or a Pitboss crash redelivers what was not acked (``connect_robust`` reconnects and
consumes again). Nothing is doubled in the decisions: a redelivered message produces its
events again with the same event ids, which the workers drop. The queue is declared durable;
publishers should send persistent messages so a RabbitMQ restart keeps them.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from app.intake.outlet import Outlet
from app.intake.settings import AmqpSettings
from app.intake.translate import CONTENT_TYPES, BatchRefused, Translator

log = logging.getLogger(__name__)


class AmqpIntake:
    """Consumes the queue into Kafka through ``outlet``, with ``translator``'s mappings."""

    def __init__(self, settings: AmqpSettings, translator: Translator, outlet: Outlet) -> None:
        self.settings, self.translator, self.outlet = settings, translator, outlet
        self.formats = sorted(translator.mappings)
        #: set once the queue is being consumed
        self.consuming = asyncio.Event()

    def format_of(self, message: AbstractIncomingMessage) -> str | None:
        """The message's format: its content type, else the source's only mapping."""
        content_type = (message.content_type or "").split(";")[0].strip().lower()
        if content_type:
            return CONTENT_TYPES.get(content_type)
        return self.formats[0] if len(self.formats) == 1 else None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; reconnects by itself after RabbitMQ restarts."""
        connection = await aio_pika.connect_robust(self.settings.url)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.settings.prefetch)
            queue = await channel.declare_queue(self.settings.queue, durable=True)
            await queue.consume(self.handle)
            self.consuming.set()
            await stop.wait()
        finally:
            await connection.close()

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """One message: to Kafka, then acked; requeued (redelivered) if Kafka did not take it.
        An unreadable message is dead-lettered whole, and acked."""
        now_ms = int(time.time() * 1000)
        fmt = self.format_of(message)
        outcomes, whole = [], None
        try:
            if fmt is None:
                raise BatchRefused(f"content type {message.content_type!r}: no mapping for it")
            outcomes = self.translator.translate(fmt, message.body, now_ms)
        except BatchRefused as exc:
            whole = self.translator.refused_body(message.body, str(exc), now_ms)
        try:
            failed = await self.outlet.produce(outcomes, now_ms, whole)
        except TimeoutError:
            failed = {-1: "Kafka did not acknowledge in time"}
        if failed:
            log.warning("message %s: Kafka did not take it, requeued", message.message_id)
            await message.nack(requeue=True)
        else:
            await message.ack()
