"""Erasure of a player (GDPR's right to be forgotten), requested from outside the workers.

The request travels to the worker that owns the player, on the player's own partition of
the internal re-keyed topic, so it is applied in order with the player's events: that
worker tombstones the state and profile, journals a PLAYER_ERASED marker (by which
archives delete the history) and from then on decides nothing for the id.
"""

from __future__ import annotations

import time

import orjson
from aiokafka import AIOKafkaProducer

from app.pipeline.ingest import FORGET_TYPE, RECORD_TYPE_HEADER, partition_for
from app.settings import Settings


async def request_erasure(settings: Settings, player_id: str, requested_by: str) -> int:
    """Send the erasure request and the profile tombstone; the partition it went to."""
    if not player_id.strip():
        raise ValueError("a player id is required")
    key = player_id.encode()
    partition = partition_for(player_id, settings.partitions)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        # compaction then drops the profile from the CRM's topic too
        await producer.send_and_wait(settings.topics.player_profiles, key=key, value=None)
        request = {
            "player_id": player_id,
            "requested_at": int(time.time() * 1000),
            "by": requested_by,
        }
        await producer.send_and_wait(
            settings.topics.rekeyed,
            key=key,
            value=orjson.dumps(request),
            partition=partition,
            headers=[(RECORD_TYPE_HEADER, FORGET_TYPE)],
        )
    finally:
        await producer.stop()
    return partition
