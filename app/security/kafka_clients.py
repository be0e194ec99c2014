"""The one place Pitboss creates aiokafka clients, so every consumer, producer and admin client
(commands, archive, replay, tail, rules, simulator, test harness, benchmarks) reaches the brokers
with the deployment's TLS/SASL settings (``aiokafka_options``). Faust's own clients get the same
settings as ``broker_credentials`` (app/streaming/faust_app.py). tests/unit/security/
test_kafka_clients.py fails if a module constructs an aiokafka client anywhere else."""

from __future__ import annotations

import os
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from app.security.kafka import aiokafka_options
from app.security.settings import KafkaSecurity
from app.settings import Settings


def _options(settings: Settings, kafka: KafkaSecurity | None, options: dict[str, Any]) -> dict:
    """``options`` plus the brokers and the security settings (default: this process's
    environment), which a caller cannot override by accident."""
    security = aiokafka_options(kafka or KafkaSecurity.from_env(os.environ))
    return {"bootstrap_servers": settings.bootstrap_servers, **options, **security}


def consumer(
    settings: Settings, *topics: str, kafka: KafkaSecurity | None = None, **options: Any
) -> AIOKafkaConsumer:
    """An unstarted consumer of ``topics`` (or none: assign or subscribe later)."""
    return AIOKafkaConsumer(*topics, **_options(settings, kafka, options))


def producer(
    settings: Settings, *, kafka: KafkaSecurity | None = None, **options: Any
) -> AIOKafkaProducer:
    """An unstarted producer."""
    return AIOKafkaProducer(**_options(settings, kafka, options))


def admin(
    settings: Settings, *, kafka: KafkaSecurity | None = None, **options: Any
) -> AIOKafkaAdminClient:
    """An unstarted admin client."""
    return AIOKafkaAdminClient(**_options(settings, kafka, options))
