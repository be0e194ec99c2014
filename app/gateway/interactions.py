"""Interactions: what a player did with a reward or message the table screen showed them,
checked against the OpenAPI document's ``Interaction`` schema (one description for the docs,
the fuzz and the check) and produced to ``player-interactions`` as Avro ``PlayerInteraction``,
keyed by the player id, answered only once Kafka has it. The record's ``rule_id`` and
``variant`` are the gateway's to fill (``PlayerFeed.about``), never the client's: the body's
schema has no such fields.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from app.contract.codec import AvroCodec
from app.security import kafka_clients
from app.security.settings import KafkaSecurity
from app.settings import Settings

#: Seconds to wait for Kafka's acknowledgement.
ACK_TIMEOUT = 10.0


class InvalidInteraction(ValueError):
    """The body is not an interaction; the message says why."""


class InteractionOutlet:
    """Checks interaction bodies and produces them (``acks=all``)."""

    def __init__(self, settings: Settings, kafka: KafkaSecurity, schema: Mapping[str, Any]) -> None:
        self.settings, self.kafka = settings, kafka
        self.validator = Draft202012Validator(schema)
        self.codec = AvroCodec("PlayerInteraction")
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = kafka_clients.producer(
            self.settings,
            kafka=self.kafka,
            client_id=f"{self.settings.app_id}-gateway",
            acks="all",
            request_timeout_ms=int(ACK_TIMEOUT * 1000),
        )
        await self.producer.start()

    async def stop(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            await producer.stop()

    def record(self, player_id: str, body: Any, now_ms: int | None = None) -> dict[str, Any]:
        """The PlayerInteraction for ``body`` (``rule_id`` and ``variant`` not yet known), or
        InvalidInteraction saying why not."""
        error = best_match(self.validator.iter_errors(body))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the body"
            raise InvalidInteraction(f"{where}: {error.message}")
        recorded = int(time.time() * 1000) if now_ms is None else now_ms
        return {
            "interaction_id": body.get("interaction_id") or uuid.uuid4().hex,
            "player_id": player_id,
            "action": body["action"].upper(),
            "reward_id": body.get("reward_id"),
            "message_id": body.get("message_id"),
            "rule_id": None,
            "variant": None,
            "surface": body.get("surface"),
            "occurred_at": body.get("occurred_at", recorded),
            "recorded_at": recorded,
        }

    async def send(self, record: dict[str, Any]) -> None:
        assert self.producer is not None, "start the outlet first"
        await self.producer.send_and_wait(
            self.settings.topics.player_interactions,
            self.codec.encode(record),
            key=record["player_id"].encode(),
        )
