"""Follows the topics the gateway answers from, with one consumer and no group: it assigns
itself every partition, so any number of gateways run side by side, each holding everything,
and none ever joins (or slows) the workers' groups.

The compacted and weekly topics (the worker's player-state and leaderboards changelogs,
``player-keys``, ``rewards``, ``crm-rules``, the leaderboard scores) are read from their
beginning, and the gateway is ready once it has read them to the end offsets it found at
start; the journal is followed from its end, and a stream resuming from an older cursor reads
its player's partition from there (``read_journal``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from app.gateway.feed import PlayerFeed
from app.operations.privacy import changelog
from app.security import kafka_clients
from app.security.settings import KafkaSecurity
from app.settings import Settings
from app.streaming.pacing import start_paced

log = logging.getLogger(__name__)

#: Seconds between checks for the worker's changelog topic, which its first start creates.
TOPIC_WAIT = 1.0


class Follower:
    """Keeps a ``PlayerFeed`` up to date; ``ready`` once the history is read."""

    def __init__(self, settings: Settings, kafka: KafkaSecurity, feed: PlayerFeed) -> None:
        self.settings, self.kafka, self.feed = settings, kafka, feed
        self.ready = asyncio.Event()
        topics = settings.topics
        self.state_topic = changelog(settings, "player-state")
        self.boards_topic = changelog(settings, "leaderboards")
        self.history = [
            self.state_topic,
            self.boards_topic,
            topics.player_keys,
            topics.rewards,
            topics.crm_rules,
            topics.leaderboard_scores,
        ]

    def _consumer(self) -> AIOKafkaConsumer:
        return kafka_clients.consumer(
            self.settings,
            kafka=self.kafka,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{self.settings.app_id}-gateway",
        )

    async def _partitions(
        self, consumer: AIOKafkaConsumer, topics: list[str]
    ) -> list[TopicPartition]:
        """Every partition of ``topics``, once they all exist (the changelog comes with the
        worker's first start)."""
        while True:
            existing = await consumer.topics()
            missing = [t for t in topics if t not in existing]
            if not missing:
                break
            log.info("waiting for topic(s) %s", ", ".join(missing))
            await asyncio.sleep(TOPIC_WAIT)
        return [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]

    async def run(self) -> None:
        consumer = self._consumer()
        await start_paced(consumer, pace=self.settings.pace_empty_fetches)
        try:
            journal = self.settings.topics.journal
            history = await self._partitions(consumer, self.history)
            live = await self._partitions(consumer, [journal])
            consumer.assign(history + live)
            await consumer.seek_to_beginning(*history)
            ends = await consumer.end_offsets(history + live)
            for tp in live:
                consumer.seek(tp, ends[tp])
                self.feed.journal_next[tp.partition] = ends[tp]
            pending = {tp for tp in history if ends[tp] > 0}
            if not pending:
                self._caught_up()
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, records in batches.items():
                    self._apply(tp, records)
                if pending:
                    pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
                    if not pending:
                        self._caught_up()
        finally:
            await consumer.stop()

    def _caught_up(self) -> None:
        feed = self.feed
        log.info(
            "gateway ready: %d player state(s), %d secret(s)", len(feed.states), len(feed.secrets)
        )
        self.ready.set()

    def _apply(self, tp: TopicPartition, records: list) -> None:
        feed, topics = self.feed, self.settings.topics
        if tp.topic == topics.journal:
            feed.apply_journal(((r.key, r.value, r.offset) for r in records), tp.partition)
            return
        for r in records:
            if tp.topic == self.state_topic:
                feed.apply_state(r.key, r.value, tp.partition)
            elif tp.topic == self.boards_topic:
                feed.apply_board(r.key, r.value)
            elif tp.topic == topics.player_keys:
                feed.apply_secret(r.key, r.value)
            elif tp.topic == topics.rewards:
                feed.apply_reward(r.value, tp.partition, r.offset)
            elif tp.topic == topics.leaderboard_scores:
                feed.ranks.apply(r.key, r.value)
            else:
                feed.apply_rules(self.settings.ruleset_id, r.key, r.value)

    async def read_journal(
        self, partition: int, start: int, end: int, name: str
    ) -> AsyncIterator[tuple[int, bytes]]:
        """The journal entries (offset, value) named ``name`` in ``partition`` from offset
        ``start`` up to (not including) ``end``: what a resuming stream missed."""
        tp = TopicPartition(self.settings.topics.journal, partition)
        consumer = self._consumer()
        await start_paced(consumer, pace=self.settings.pace_empty_fetches)
        try:
            consumer.assign([tp])
            consumer.seek(tp, start)
            key = name.encode()
            while await consumer.position(tp) < end:
                batches = await consumer.getmany(tp, timeout_ms=500, max_records=2000)
                for record in batches.get(tp, ()):
                    if record.offset < end and record.key == key and record.value is not None:
                        yield record.offset, record.value
        finally:
            await consumer.stop()
