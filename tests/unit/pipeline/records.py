"""Kafka records of events, profiles and erasures, as a worker's consumer would hand them over:
on their player's partition, each topic-partition numbered in offset order."""

from __future__ import annotations

import orjson

from app.contract.codec import AvroCodec
from app.pipeline.ingest import FORGET_TYPE, RECORD_TYPE_HEADER, RawRecord, partition_for
from app.settings import TopicNames

TOPICS = TopicNames.from_env({})
PARTITIONS = 3
EVENTS = AvroCodec("TableEvent")
PROFILES = AvroCodec("PlayerProfile")
ACCOUNTS = AvroCodec("AccountEvent")
INTERACTIONS = AvroCodec("PlayerInteraction")
COMMANDS = AvroCodec("PlayerCommand")


def player_on(partition: int, nth: int = 0) -> str:
    """The ``nth`` test player id that lives on ``partition``."""
    found = (f"p-{n:06d}" for n in range(100_000))
    on = (p for p in found if partition_for(p, PARTITIONS) == partition)
    for _ in range(nth):
        next(on)
    return next(on)


class Log:
    """Appends records the way the topics would hold them."""

    def __init__(self) -> None:
        self.records: list[RawRecord] = []
        self._offsets: dict[tuple[str, int], int] = {}

    def _add(self, topic: str, player_id: str, value: bytes | None, at: int, headers=()) -> None:
        partition = partition_for(player_id, PARTITIONS)
        offset = self._offsets.get((topic, partition), 0)
        self._offsets[topic, partition] = offset + 1
        self.records.append(
            RawRecord(topic, partition, offset, player_id.encode(), value, at, tuple(headers))
        )

    def event(self, event: dict) -> dict:
        self._add(
            TOPICS.table_events, event["player_id"], EVENTS.encode(event), event["occurred_at"]
        )
        return event

    def profile(self, player_id: str, profile: dict | None, at: int) -> None:
        value = None if profile is None else PROFILES.encode(profile)
        self._add(TOPICS.player_profiles, player_id, value, at)

    def forget(self, player_id: str, at: int, by: str = "") -> None:
        request = orjson.dumps({"player_id": player_id, "by": by} if by else {})
        self._add(TOPICS.rekeyed, player_id, request, at, [(RECORD_TYPE_HEADER, FORGET_TYPE)])

    def account(self, record: dict) -> dict:
        """An AccountEvent on account-events, stamped when it happened."""
        value = ACCOUNTS.encode(record)
        self._add(TOPICS.account_events, record["player_id"], value, record["occurred_at"])
        return record

    def interaction(self, record: dict) -> dict:
        """A PlayerInteraction on player-interactions, stamped when the gateway took it."""
        value = INTERACTIONS.encode(record)
        self._add(TOPICS.player_interactions, record["player_id"], value, record["recorded_at"])
        return record

    def command(self, record: dict) -> dict:
        """A PlayerCommand on player-commands, stamped when the player asked."""
        value = COMMANDS.encode(record)
        self._add(TOPICS.player_commands, record["player_id"], value, record["occurred_at"])
        return record
