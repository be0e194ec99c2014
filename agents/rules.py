"""Follows ``crm-rules``: every worker reads the whole compacted topic and then tails it,
so a push reaches all workers within a second, without a restart.

A Faust global table would be the textbook fit, but its standby reader did not deliver
live updates here (measured: a push was still unseen after 20 s), so this task does the
one thing needed with a plain consumer and no group: latest value per ruleset id.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import TopicPartition

from app.security import kafka_clients
from app.streaming.faust_app import app, settings
from app.streaming.pacing import start_paced

log = logging.getLogger(__name__)


class RulesFeed:
    """The newest published document (raw JSON bytes) of every ruleset id."""

    def __init__(self) -> None:
        self.latest: dict[str, bytes] = {}
        #: set once the topic has been read to the end offsets seen at start
        self.caught_up = asyncio.Event()

    def get(self, ruleset_id: str) -> bytes | None:
        return self.latest.get(ruleset_id)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        if value is None:  # a tombstone: the ruleset was withdrawn
            self.latest.pop(key.decode(), None)
        else:
            self.latest[key.decode()] = value


feed = RulesFeed()


@app.task
async def follow_rules() -> None:
    tp = TopicPartition(settings.topics.crm_rules, 0)
    consumer = kafka_clients.consumer(
        settings,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await start_paced(consumer, pace=settings.pace_empty_fetches)
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            feed.caught_up.set()
        while True:
            batches = await consumer.getmany(tp, timeout_ms=500)
            for message in batches.get(tp, ()):
                feed.apply(message.key, message.value)
            if not feed.caught_up.is_set() and await consumer.position(tp) >= end:
                feed.caught_up.set()
                log.info("read %d published ruleset(s) from %s", len(feed.latest), tp.topic)
    except asyncio.CancelledError:
        raise
    finally:
        await consumer.stop()
